// 系统管理: who may do what where. Accounts, offices and windows, API clients, fee schedules.
// Every rule (office scope, nobody changes their own access) is the server's; this page says
// what it answered.
import "./staff-parts.js"; // first: it makes the parts the others look up
import { api, clearSession, messageOf, sessionToken, wireLogout } from "./api.js";
import { $ } from "./dom.js";
import { loadOffices, pageError, state } from "./admin-common.js";
import { setupFees } from "./admin-fees.js";
import { setupKiosks } from "./admin-kiosks.js";
import { setupPlaces } from "./admin-places.js";
import { setupAccounts } from "./admin-users.js";
import { setupWebhooks } from "./admin-webhooks.js";
import { personAndRole } from "./naming.js";

function signOut() {
  clearSession();
  location.replace("/login?next=/admin");
}

async function main() {
  if (!sessionToken()) {
    signOut();
    return;
  }
  try {
    state.me = await api("GET", "/api/v1/me");
    if (state.me.role !== "admin") {
      location.replace(state.me.home);
      return;
    }
    await loadOffices();
  } catch (err) {
    if (err.status === 401) signOut();
    else pageError(`页面加载失败：${messageOf(err)}`);
    return;
  }
  $("who").textContent = personAndRole(state.me);
  wireLogout($("logout"), signOut);
  const onError = (err) => {
    if (err.status === 401) signOut();
    else pageError(err.zh || messageOf(err));
  };
  const accounts = setupAccounts({ onError });
  setupPlaces({ onError, onChanged: accounts.redraw });
  const fees = setupFees({ onError });
  const hooks = setupWebhooks({ onError });
  const kiosks = setupKiosks({ onError });
  try {
    await Promise.all([accounts.load(), fees.load(), hooks.load(), kiosks.load()]);
  } catch (err) {
    onError(err);
  }
}

main();

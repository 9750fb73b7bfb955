// The window screen: who is signed in, which window this is, and the parts wired together.
import "./staff-parts.js"; // first: it makes the parts the others look up
import { api, clearSession, messageOf, sessionToken, wireLogout } from "./api.js";
import { followOrder, setupDisplayLink } from "./display-link.js";
import { nameOf, personAndRole } from "./naming.js";
import { $ } from "./dom.js";
import { watchWindow } from "./events.js";
import { markSelected, reloadList, setupOrderList } from "./order-list.js";
import { setupOrderForm } from "./order-form.js";
import {
  applyEvent, currentOrderNo, isWaiting, resync, setupOrderPanel, showNewOrder, showOrder,
} from "./order-panel.js";

// Events are announced after commit; one lost to a crash must not leave the clerk waiting, so a
// waiting order is also re-read now and then.
const WAITING_REFRESH_MS = 5000;
setInterval(() => {
  if (isWaiting()) resync();
}, WAITING_REFRESH_MS);

// a supervisor covers any window of the hall; this browser remembers which one they took
const WINDOW_KEY = "tj_window";

let office = "";
let windowNo = "";
let stopEvents = () => {};

function signOut() {
  clearSession();
  location.replace("/login");
}

function pageError(text) {
  $("page-error").textContent = text;
}

function connect() {
  stopEvents();
  if (!office || !windowNo) return;
  followOrder(currentOrderNo()); // this window's screen shows what this window shows
  stopEvents = watchWindow({
    office,
    windowNo,
    onEvent(event) {
      applyEvent(event);
      reloadList();
    },
    onResync() {
      resync();
      reloadList(0);
    },
    onStatus(on) {
      $("live").textContent = on ? "实时连接" : "正在重新连接…";
      $("live").classList.toggle("on", on);
    },
    async onRefused() {
      try {
        await api("GET", "/api/v1/me");
      } catch (err) {
        if (err.status === 401) signOut();
      }
    },
  });
}

// Where this screen takes orders comes from the server: a clerk's assigned window (the server
// puts it on every order whatever a browser says), or for a supervisor one of the hall's windows.
async function setupPlace(me) {
  office = me.office || "";
  $("office-name").textContent = me.office_name || nameOf("office", office) || "—";
  if (me.role !== "supervisor") {
    windowNo = me.window || "";
    $("window-name").textContent = me.window_name || windowNo || "未分配";
    if (!windowNo) {
      $("live").textContent = "未分配窗口";
      pageError("您尚未分配窗口，不能开具缴费单。请联系系统管理员在“系统管理”中为您分配窗口。");
    }
    return;
  }
  const { windows } = await api("GET", "/api/v1/windows");
  const select = $("window-select");
  for (const w of windows) select.add(new Option(w.name, w.code));
  const remembered = localStorage.getItem(WINDOW_KEY);
  const known = (code) => windows.some((w) => w.code === code);
  windowNo = [me.window, remembered].find((c) => c && known(c)) || (windows[0] || {}).code || "";
  select.value = windowNo;
  $("window-name").hidden = true;
  select.hidden = false;
  if (!windowNo) pageError("本大厅还没有在用的窗口，请联系系统管理员。");
  select.addEventListener("change", () => {
    followOrder(null); // the screen of the window left behind shows nothing of this order
    windowNo = select.value;
    localStorage.setItem(WINDOW_KEY, windowNo);
    connect();
    reloadList(0);
  });
}

async function main() {
  if (!sessionToken()) {
    signOut();
    return;
  }
  let me, catalogue, config;
  try {
    [me, catalogue, config] = await Promise.all([
      api("GET", "/api/v1/me"),
      api("GET", "/api/v1/fee-items"),
      api("GET", "/window/config.json"),
    ]);
  } catch (err) {
    if (err.status === 401) signOut();
    else pageError(`页面加载失败：${messageOf(err)}`);
    return;
  }
  $("who").textContent = personAndRole(me);
  wireLogout($("logout"), signOut, () => followOrder(null));
  if (me.home !== "/window") {
    // finance, auditors and administrators have screens of their own
    location.replace(me.home);
    return;
  }
  try {
    await setupPlace(me);
  } catch (err) {
    if (err.status === 401) signOut();
    else pageError(`窗口信息加载失败：${messageOf(err)}`);
    return;
  }
  setupOrderPanel({
    config,
    me,
    onChanged: () => reloadList(0),
    onUnauthorized: signOut,
    onShown: followOrder,
  });
  setupDisplayLink({
    context: () => ({ office, windowNo }),
    onUnauthorized: signOut,
    role: me.role,
  });
  const pick = (orderNo) => {
    markSelected(orderNo);
    showOrder(orderNo);
  };
  setupOrderForm({
    items: catalogue.items,
    lineLimit: config.max_lines,
    role: me.role,
    context: () => ({ office, windowNo }),
    onCreated(order) {
      reloadList(0);
      markSelected(order.order_no);
      showNewOrder(order);
    },
    onUnauthorized: signOut,
  });
  setupOrderList({
    context: () => ({ office, windowNo }),
    onPick: pick,
    selected: currentOrderNo,
    onError(err, text) {
      if (err && err.status === 401) signOut();
      else pageError(err ? `今日缴费单加载失败：${text}` : "");
    },
  });
  connect();
  $("case-no").focus();
  // the form is wired and reset: what is typed from now on stays (tests wait for this too)
  document.body.dataset.ready = "true";
}

main();

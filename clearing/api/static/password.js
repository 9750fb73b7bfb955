// 修改密码: the only page a user with a temporary password may use until they choose their own.
import { api, clearSession, messageOf, saveSession, sessionToken } from "./api.js";

const form = document.getElementById("password-form");
const errorBox = document.getElementById("password-error");
const reason = document.getElementById("password-reason");
const submit = document.getElementById("password-submit");

// only a path on this site; without one, the page this role starts on (the server says which)
function nextPath(user) {
  const next = new URLSearchParams(location.search).get("next") || "";
  return /^\/(?![/\\])/.test(next) && !next.startsWith("/password") ? next : user.home || "/window";
}

async function signOut() {
  try {
    await api("DELETE", "/api/v1/sessions");
  } catch {
    // signed out locally in any case
  }
  clearSession();
  location.replace("/login");
}

document.getElementById("password-logout").addEventListener("click", (event) => {
  event.preventDefault();
  signOut();
});

async function start() {
  if (!sessionToken()) {
    location.replace("/login?next=/password");
    return;
  }
  try {
    const me = await api("GET", "/api/v1/me");
    reason.textContent = me.must_change_password
      ? `${me.display_name}，您的密码是管理员设置的临时密码，请先设置您自己的密码。`
      : `${me.display_name}，请设置新密码。`;
  } catch (err) {
    if (err.status === 401) location.replace("/login?next=/password");
    else errorBox.textContent = messageOf(err);
  }
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.textContent = "";
  const current = form.current.value;
  const fresh = form.new.value;
  if (!current || !fresh) {
    errorBox.textContent = "请输入当前密码和新密码。";
    return;
  }
  if (fresh !== form.again.value) {
    errorBox.textContent = "两次输入的新密码不一致。";
    form.again.select();
    return;
  }
  submit.disabled = true;
  try {
    const me = await api("POST", "/api/v1/me/password", {
      body: { current_password: current, new_password: fresh },
    });
    saveSession(sessionToken(), me);
    location.replace(nextPath(me));
  } catch (err) {
    if (err.status === 401) {
      location.replace("/login?next=/password");
      return;
    }
    errorBox.textContent = messageOf(err);
    submit.disabled = false;
  }
});

start();

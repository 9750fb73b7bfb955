// Sign-in: the API sets the HttpOnly cookie (for <img>, EventSource and the receipt page) and
// returns a token that this tab keeps for the Authorization header of everything else.
import { api, messageOf, saveSession } from "./api.js";

const form = document.getElementById("login-form");
const errorBox = document.getElementById("login-error");
const submit = document.getElementById("login-submit");

// only a path on this site: never send a freshly signed-in clerk to another origin; without one,
// each role starts on its own page (the server says which)
function nextPath(user) {
  const next = new URLSearchParams(location.search).get("next") || "";
  return /^\/(?![/\\])/.test(next) ? next : user.home || "/window";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  errorBox.textContent = "";
  const username = form.username.value.trim();
  const password = form.password.value;
  form.username.setAttribute("aria-invalid", String(!username));
  form.password.setAttribute("aria-invalid", String(!password));
  if (!username || !password) {
    errorBox.textContent = "请输入用户名和密码。";
    (username ? form.password : form.username).focus();
    return;
  }
  submit.disabled = true;
  submit.textContent = "正在登录…";
  try {
    const out = await api("POST", "/api/v1/sessions", { body: { username, password }, auth: false });
    saveSession(out.token, out.user);
    // a temporary password (new user, or reset by an administrator): choose one's own first
    if (out.user.must_change_password) {
      location.replace(`/password?next=${encodeURIComponent(nextPath(out.user))}`);
      return;
    }
    location.replace(nextPath(out.user));
  } catch (err) {
    errorBox.textContent = messageOf(err);
    form.password.select();
    submit.disabled = false;
    submit.textContent = "登　录";
  }
});

// 工作人员 and 接口客户端: create, change, disable; one-time passwords and tokens.
import { api, messageOf } from "./api.js";
import { $, el } from "./dom.js";
import {
  ROLE_ZH, WINDOW_ROLES, fillOffices, fillSelect, fillWindows, flash, markInvalid, officeName,
  showEdit, showSecret, state, stateBadge, values, windowName,
} from "./admin-common.js";

const CLIENT_ROLES = ["clerk", "supervisor", "finance", "auditor"];
let users = [];
let clients = [];
let editing = null;

function roleOptions(roles) {
  return roles.map((r) => [r, ROLE_ZH[r]]);
}

// the window list follows the office; only window staff have a window
function linkPlace(form) {
  const sync = (keepWindow) => {
    const role = form.role.value;
    if (!form.window) return;
    fillWindows(form.window, form.office.value, keepWindow ? form.window.value : "");
    form.window.disabled = !WINDOW_ROLES.includes(role) || !form.office.value;
  };
  form.office.addEventListener("change", () => sync(false));
  form.role.addEventListener("change", () => sync(true));
  return sync;
}

async function act(button, work) {
  button.disabled = true;
  try {
    await work();
  } finally {
    button.disabled = false;
  }
}

/** A row's action button: asks ``question`` first (if any), then runs ``work`` with the button
 * held down so a second click cannot send it twice; a failure goes to ``onError``. */
function rowAction(text, className, onError, work, question = null) {
  const button = el("button", text, className);
  button.type = "button";
  button.addEventListener("click", () =>
    act(button, async () => {
      if (question && !confirm(question())) return;
      try {
        await work();
      } catch (err) {
        onError(err);
      }
    }),
  );
  return button;
}

function userRow(u, onError) {
  const tr = el("tr");
  tr.dataset.username = u.username;
  tr.append(
    el("td", u.username, "mono"),
    el("td", u.display_name),
    el("td", ROLE_ZH[u.role] || u.role),
    el("td", officeName(u.office)),
    el("td", windowName(u.office, u.window)),
  );
  const standing = el("td");
  standing.append(stateBadge(u.disabled));
  if (u.must_change_password && !u.disabled) standing.append(el("div", "待本人修改密码", "muted small"));
  tr.append(standing);
  const ops = el("td", "", "c-op");
  const edit = el("button", "修改", "small");
  edit.type = "button";
  edit.addEventListener("click", () => openEdit(u));
  const reset = rowAction(
    "重置密码",
    "small",
    onError,
    async () => {
      const out = await api("POST", `/api/v1/admin/users/${encodeURIComponent(u.username)}/password-reset`);
      showSecret(`${u.display_name}（${u.username}）的新一次性密码：`, out.temporary_password);
      await load();
      flash(`已重置 ${u.display_name} 的密码。`);
    },
    () => `确定为 ${u.display_name}（${u.username}）重置密码？其当前登录将立即失效。`,
  );
  const toggle = rowAction(u.disabled ? "启用" : "停用", u.disabled ? "small" : "small danger", onError, async () => {
    await api("PATCH", `/api/v1/admin/users/${encodeURIComponent(u.username)}`, { body: { disabled: !u.disabled } });
    await load();
    flash(`已${u.disabled ? "启用" : "停用"} ${u.display_name}。`);
  });
  ops.append(edit, reset, toggle);
  tr.append(ops);
  return tr;
}

function clientRow(c, onError) {
  const tr = el("tr");
  tr.append(
    el("td", c.username, "mono"),
    el("td", c.display_name),
    el("td", ROLE_ZH[c.role] || c.role),
    el("td", officeName(c.office)),
  );
  const standing = el("td");
  standing.append(stateBadge(c.disabled));
  tr.append(standing);
  const ops = el("td", "", "c-op");
  const rotate = rowAction(
    "更换令牌",
    "small",
    onError,
    async () => {
      const out = await api("POST", `/api/v1/admin/clients/${encodeURIComponent(c.username)}/token`);
      showSecret(`${c.display_name}（${c.username}）的新接口令牌：`, out.token);
    },
    () => `更换 ${c.display_name} 的令牌？旧令牌将立即失效。`,
  );
  const toggle = rowAction(c.disabled ? "启用" : "停用", c.disabled ? "small" : "small danger", onError, async () => {
    await api("PATCH", `/api/v1/admin/clients/${encodeURIComponent(c.username)}`, { body: { disabled: !c.disabled } });
    await load();
    flash(`已${c.disabled ? "启用" : "停用"}接口客户端 ${c.display_name}。`);
  });
  ops.append(rotate, toggle);
  tr.append(ops);
  return tr;
}

let syncEdit = () => {};

function openEdit(u) {
  editing = u;
  showEdit("user-dialog", `${u.display_name}（${u.username}）`, (form) => {
    form.display_name.value = u.display_name;
    fillSelect(form.role, roleOptions(Object.keys(ROLE_ZH)), u.role);
    fillOffices(form.office, u.office || "");
    fillWindows(form.window, u.office, u.window || "");
    syncEdit(true);
  });
}

let onErrorRef = () => {};

function redraw() {
  $("users").replaceChildren(...users.map((u) => userRow(u, onErrorRef)));
  const none = el("tr");
  none.append(el("td", "尚未创建接口客户端。", "muted"));
  none.firstChild.colSpan = 6;
  $("clients").replaceChildren(...(clients.length ? clients.map((c) => clientRow(c, onErrorRef)) : [none]));
  $("users-count").textContent = `共 ${users.length} 个账号`;
  fillOffices($("user-form").office, $("user-form").office.value);
  fillOffices($("client-form").office, $("client-form").office.value);
}

async function load() {
  const [u, c] = await Promise.all([
    api("GET", "/api/v1/admin/users"),
    api("GET", "/api/v1/admin/clients"),
  ]);
  users = u.users;
  clients = c.users;
  redraw();
}

function orNull(v) {
  return v === "" ? null : v;
}

// what the new-account and the edit form both say of the person: name, role, hall and window
function personFields(form) {
  const v = values(form);
  return {
    display_name: v.display_name,
    role: v.role,
    office: orNull(v.office || ""),
    window: form.window.disabled ? null : orNull(v.window || ""),
  };
}

export function setupAccounts({ onError }) {
  onErrorRef = onError;
  const form = $("user-form");
  fillSelect(form.role, roleOptions(Object.keys(ROLE_ZH)), "clerk");
  // most new accounts are window staff of the first hall
  fillOffices(form.office, state.me.office || (state.offices[0] || {}).code || "");
  const syncNew = linkPlace(form);
  syncNew(false);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { username: values(form).username, ...personFields(form) };
    const submit = form.querySelector("button[type=submit]");
    await act(submit, async () => {
      try {
        const out = await api("POST", "/api/v1/admin/users", { body });
        markInvalid(form, null);
        showSecret(`${out.user.display_name}（${out.user.username}）的一次性密码：`, out.temporary_password);
        form.username.value = "";
        form.display_name.value = "";
        await load();
        flash(`已新建账号 ${out.user.display_name}。`);
      } catch (err) {
        markInvalid(form, err);
        onError(err);
      }
    });
  });

  const edit = $("user-edit");
  syncEdit = linkPlace(edit);
  edit.addEventListener("submit", async (event) => {
    event.preventDefault();
    const wanted = personFields(edit);
    const before = { ...editing, office: editing.office, window: editing.window };
    const body = {};
    for (const [k, val] of Object.entries(wanted)) if (val !== before[k]) body[k] = val;
    if (!Object.keys(body).length) {
      $("user-dialog").close();
      return;
    }
    try {
      await api("PATCH", `/api/v1/admin/users/${encodeURIComponent(editing.username)}`, { body });
      $("user-dialog").close();
      await load();
      flash(`已保存 ${wanted.display_name} 的账号信息。`);
    } catch (err) {
      $("user-dialog-error").textContent = messageOf(err);
    }
  });

  const cform = $("client-form");
  fillSelect(cform.role, roleOptions(CLIENT_ROLES), "clerk");
  fillOffices(cform.office, state.me.office || "");
  cform.addEventListener("submit", async (event) => {
    event.preventDefault();
    const v = values(cform);
    const body = { username: v.username, display_name: v.display_name, role: v.role, office: orNull(v.office || "") };
    try {
      const out = await api("POST", "/api/v1/admin/clients", { body });
      markInvalid(cform, null);
      showSecret(`${out.client.display_name}（${out.client.username}）的接口令牌：`, out.token);
      cform.username.value = "";
      cform.display_name.value = "";
      await load();
      flash(`已新建接口客户端 ${out.client.display_name}。`);
    } catch (err) {
      markInvalid(cform, err);
      onError(err);
    }
  });
  return { load, redraw };
}

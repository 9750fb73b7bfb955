// What every staff page repeats, made once as its script starts (each page's script imports
// this module first, so these exist before any other module looks them up):
//
// - the signed-in end of the top bar, after the page's own links: the person (#who, filled once
//   the page knows who is signed in) and 退出 (#logout, wired by api.js's wireLogout); and the
//   page's alert line (#page-error) under the top bar;
// - each confirmation dialog's last lines: the alert line that says why the action was
//   refused, then 返回 and the confirming button. A page writes
//     <div class="actions" data-for="decide">确认同意</div>
//   and gets what its file held before:
//     <p id="decide-error" class="alert" role="alert"></p>
//     <div class="actions"><button type="button" id="decide-back">返回</button>
//       <button type="submit" class="primary" id="decide-confirm">确认同意</button></div>
//   data-confirm gives the confirming button another id, data-kind another class (danger);
//   返回 closes the dialog;
// - each edit dialog of 系统管理, from its fields alone: <dialog id="user-dialog"
//   data-edit="user-edit" data-title="修改账号" data-note="user-dialog-who">…fields…</dialog>
//   holds the form #user-edit: its title #user-dialog-title, the note line, the alert line
//   #user-dialog-error, the fields, then 取消 (#user-dialog-cancel, which closes it) and 保存.
import { el } from "./dom.js";

function made(tag, text, className, attrs) {
  const node = el(tag, text, className);
  for (const [name, value] of Object.entries(attrs)) node.setAttribute(name, value);
  return node;
}

function closing(text, id) {
  const button = made("button", text, "", { type: "button", id });
  button.addEventListener("click", () => button.closest("dialog").close());
  return button;
}

const topbar = document.querySelector("header.topbar");
topbar.querySelector(".session").append(
  made("span", "", "who", { id: "who" }),
  made("button", "退出", "ghost", { id: "logout", type: "button" }),
);
topbar.after(made("p", "", "alert page-alert", { id: "page-error", role: "alert" }));

for (const row of document.querySelectorAll("div.actions[data-for]")) {
  const { for: prefix, confirm = `${prefix}-confirm`, kind = "primary" } = row.dataset;
  row.before(made("p", "", "alert", { id: `${prefix}-error`, role: "alert" }));
  row.replaceChildren(
    closing("返回", `${prefix}-back`),
    made("button", row.textContent.trim(), kind, { type: "submit", id: confirm }),
  );
  for (const name of ["for", "confirm", "kind"]) delete row.dataset[name];
}

for (const dialog of document.querySelectorAll("dialog[data-edit]")) {
  const { id, dataset: { edit, title, note } } = dialog;
  const fields = made("div", "", "dialog-fields", {});
  fields.append(...dialog.children);
  const form = made("form", "", "", { method: "dialog", id: edit, novalidate: "" });
  const buttons = made("div", "", "actions", {});
  buttons.append(
    closing("取消", `${id}-cancel`),
    made("button", "保存", "primary", { type: "submit" }),
  );
  form.append(
    made("h2", title, "", { id: `${id}-title` }),
    made("p", "", "muted", { id: note }),
    made("p", "", "alert", { id: `${id}-error`, role: "alert" }),
    fields,
    buttons,
  );
  dialog.replaceChildren(form);
  for (const name of ["edit", "title", "note"]) delete dialog.dataset[name];
}

// What the parts of 系统管理 share: role and office names, the office list, messages, and the
// dialog that shows a one-time password or token exactly once.
import { api } from "./api.js";
import { $, el } from "./dom.js";
import { entries } from "./naming.js";

// the names every page uses (clearing/domain/display.py), not copies of them
export const ROLE_ZH = Object.fromEntries(entries("role"));
export const WINDOW_ROLES = ["clerk", "supervisor"];
export const OFFICE_KIND_ZH = Object.fromEntries(entries("office_kind"));

// the offices (each with its windows) as last read; every part redraws from it
export const state = { offices: [], me: null };

export async function loadOffices() {
  state.offices = (await api("GET", "/api/v1/admin/offices")).offices;
  return state.offices;
}

export function officeName(code) {
  if (!code) return "—";
  const o = state.offices.find((x) => x.code === code);
  return o ? o.name : code;
}

export function windowName(office, code) {
  if (!code) return "—";
  const o = state.offices.find((x) => x.code === office);
  const w = o && o.windows.find((x) => x.code === code);
  return w ? w.name : code;
}

export function fillSelect(select, options, value, blank) {
  select.replaceChildren();
  if (blank !== undefined) select.add(new Option(blank, ""));
  for (const [code, name] of options) select.add(new Option(name, code));
  select.value = value || "";
}

export function fillOffices(select, value, blank = "（不属于某个大厅）") {
  const open = state.offices.filter((o) => o.active || o.code === value);
  fillSelect(select, open.map((o) => [o.code, o.name]), value, state.me.office ? undefined : blank);
}

export function fillWindows(select, office, value) {
  const o = state.offices.find((x) => x.code === office);
  const open = o ? o.windows.filter((w) => w.active || w.code === value) : [];
  fillSelect(select, open.map((w) => [w.code, `${w.name}（${w.code}）`]), value, "（不分配窗口）");
}

export function flash(text) {
  $("flash").textContent = text;
  if (text) $("page-error").textContent = "";
  if (text) $("flash").scrollIntoView({ block: "nearest" });
}

export function pageError(text) {
  $("page-error").textContent = text;
  if (text) $("flash").textContent = "";
  if (text) $("page-error").scrollIntoView({ block: "nearest" });
}

export function showSecret(intro, value, title = "一次性密码") {
  $("secret-title").textContent = title;
  $("secret-intro").textContent = intro;
  $("secret-value").textContent = value;
  $("secret-value").classList.toggle("long", value.length > 24);
  $("secret-dialog").showModal();
}

export function stateBadge(disabled) {
  return el("span", disabled ? "已停用" : "正常", `badge ${disabled ? "s-CANCELLED" : "s-CLEARED"}`);
}

/** A form's named fields as trimmed strings. */
export function values(form) {
  const out = {};
  for (const [k, v] of new FormData(form)) out[k] = typeof v === "string" ? v.trim() : v;
  return out;
}

/** Mark the fields the server named as wrong, and clear the rest. */
export function markInvalid(form, err) {
  const bad = new Set(((err && err.problem && err.problem.errors) || []).map((e) => e.loc));
  for (const input of form.querySelectorAll("input, select")) {
    input.toggleAttribute("aria-invalid", bad.has(input.name));
    if (bad.has(input.name)) input.setAttribute("aria-invalid", "true");
  }
}

/** Opens one of the edit dialogs staff-parts.js made: `note` on its note line, no refusal or
 * marked field left from before, the fields as `fill(form)` sets them. */
export function showEdit(id, note, fill) {
  const form = $(id).querySelector("form");
  form.querySelector("p.muted").textContent = note;
  $(`${id}-error`).textContent = "";
  fill(form);
  markInvalid(form, null);
  $(id).showModal();
}

// Names instead of codes, for every script of every page: the one table lives on the server
// (clearing/domain/display.py, plus the names that are data: offices, banks, beneficiaries, fee
// items, people, ledger accounts) and reaches the browser as the generated module
// /window/names.js. Never keep a copy of a table in a script.
//
//   import { nameOf, sourceName, actorName, windowName } from "./naming.js";
//   nameOf("order_state", "CLEARED")     // "已缴费"
//   nameOf("discrepancy_type", d.type)   // "跨日在途"
//   nameOf("office", "HALL1")            // the office's name
//   actorName("user:clerk1")             // the person's display name
//   entries("discrepancy_state")         // [[code, name], …] in the table's order, for <select>
import { NAMES } from "../names.js";

export { NAMES };

/** The display name of ``code`` of ``kind``; "" for none; an unknown code as it is. */
export function nameOf(kind, code) {
  if (code === null || code === undefined || code === "") return "";
  const table = NAMES[kind] || {};
  return Object.hasOwn(table, code) ? table[code] : String(code);
}

/** [code, name] pairs of a table, in its order. */
export function entries(kind) {
  return Object.entries(NAMES[kind] || {});
}

/** Where a discrepancy was seen: a channel, an authority, the ledger, or "bank:<code>". */
export function sourceName(source) {
  if (!source) return "";
  if (source.startsWith("bank:")) return nameOf("bank", source.slice(5));
  for (const kind of ["channel", "authority", "source"]) {
    if (Object.hasOwn(NAMES[kind] || {}, source)) return NAMES[kind][source];
  }
  return source;
}

/** Who did something: a person by name ("user:clerk1" or "clerk1"), else the system's part. */
export function actorName(actor) {
  if (!actor) return "";
  if (Object.hasOwn(NAMES.actor || {}, actor)) return NAMES.actor[actor];
  const user = /^(user|client):/.test(actor) ? actor.slice(actor.indexOf(":") + 1) : actor;
  return nameOf("user", user);
}

/** "W01" → "1号窗口" (as clearing.domain.display.window_name). */
export function windowLabel(windowNo) {
  if (!windowNo) return "";
  const m = /^[A-Za-z]{0,3}0*([0-9]{1,4})$/.exec(windowNo);
  return m ? `${m[1]}号窗口` : windowNo;
}

/** The window alone, by the name the hall gave it ("窗口一"), else as signed ("1号窗口"). */
export function windowOf(office, windowNo) {
  if (!windowNo) return "";
  const named = (NAMES.window || {})[`${office || ""}/${windowNo}`];
  return named || windowLabel(windowNo);
}

/** "第一大厅 窗口一", or the window alone without an office. */
export function windowName(office, windowNo) {
  return [nameOf("office", office), windowOf(office, windowNo)].filter(Boolean).join(" ");
}

/** The person and the role, as the staff pages' headers say them (never the login). */
export function personAndRole(me) {
  return `${me.display_name}（${nameOf("role", me.role)}）`;
}

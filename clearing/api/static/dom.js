// Small DOM helpers. Data only ever reaches the page as textContent, never as HTML.

export const $ = (id) => document.getElementById(id);

/** An element with text content: el("td", "x", "num"). */
export function el(tag, text = "", className = "") {
  const node = document.createElement(tag);
  if (text !== "") node.textContent = text;
  if (className) node.className = className;
  return node;
}

const pad = (n) => String(n).padStart(2, "0");

// Staff read Beijing time whatever zone the browser's machine is set to (a kiosk or a browser on a
// server may well run in UTC): the instant shifted by eight hours, read with the UTC getters.
// China keeps no daylight saving time, so the offset is fixed.
const BEIJING_OFFSET_MS = 8 * 3600 * 1000;
const beijing = (d) => new Date(d.getTime() + BEIJING_OFFSET_MS);

/** ISO timestamp → Beijing "HH:MM:SS". */
export function clock(iso) {
  if (!iso) return "—";
  const d = beijing(new Date(iso));
  return `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
}

/** ISO timestamp → Beijing "YYYY-MM-DD HH:MM:SS". */
export function dateTime(iso) {
  if (!iso) return "—";
  return `${today(new Date(iso))} ${clock(iso)}`;
}

/** The Beijing calendar date "YYYY-MM-DD" of an instant (the window's working day). */
export function today(d = new Date()) {
  const b = beijing(d);
  return `${b.getUTCFullYear()}-${pad(b.getUTCMonth() + 1)}-${pad(b.getUTCDate())}`;
}

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

/** ISO timestamp → local "HH:MM:SS". */
export function clock(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** ISO timestamp → local "YYYY-MM-DD HH:MM:SS". */
export function dateTime(iso) {
  if (!iso) return "—";
  const d = new Date(iso);
  return `${today(d)} ${clock(iso)}`;
}

/** Local calendar date "YYYY-MM-DD" (the window's working day). */
export function today(d = new Date()) {
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

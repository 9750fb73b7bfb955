// Small DOM helpers. Data only ever reaches the page as textContent, never as HTML.
// Times: clock, dateTime and today are time.js's (Beijing time), re-exported for older imports.

export { clock, dateTime, today } from "./time.js";

export const $ = (id) => document.getElementById(id);

/** An element with text content: el("td", "x", "num"). */
export function el(tag, text = "", className = "") {
  const node = document.createElement(tag);
  if (text !== "") node.textContent = text;
  if (className) node.className = className;
  return node;
}

// The last lines every staff confirmation dialog repeats, written once: the alert line that
// says why the action was refused, then 返回 and the confirming button. A page writes
//   <div class="actions" data-for="decide">确认同意</div>
// and gets what its file held before:
//   <p id="decide-error" class="alert" role="alert"></p>
//   <div class="actions"><button type="button" id="decide-back">返回</button>
//     <button type="submit" class="primary" id="decide-confirm">确认同意</button></div>
// data-confirm gives the confirming button another id, data-kind another class (danger).
// A page's script imports this module first, so these exist before any module looks them up.
import { el } from "./dom.js";

for (const row of document.querySelectorAll("div.actions[data-for]")) {
  const { for: prefix, confirm = `${prefix}-confirm`, kind = "primary" } = row.dataset;
  const error = el("p", "", "alert");
  error.id = `${prefix}-error`;
  error.setAttribute("role", "alert");
  const back = el("button", "返回");
  back.type = "button";
  back.id = `${prefix}-back`;
  const go = el("button", row.textContent.trim(), kind);
  go.type = "submit";
  go.id = confirm;
  row.before(error);
  row.replaceChildren(back, go);
  for (const name of ["for", "confirm", "kind"]) delete row.dataset[name];
}

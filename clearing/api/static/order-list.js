// 今日缴费单: this window's orders of the day, newest first, reloaded when anything changes.
import { api, messageOf } from "./api.js";
import { $, el } from "./dom.js";
import { clock, today } from "./time.js";
import { formatFen } from "./money.js";

let timer = null;
let hooks = { context: () => ({}), onPick: () => {}, onError: () => {}, selected: () => null };

function row(o) {
  const tr = el("tr");
  tr.dataset.orderNo = o.order_no;
  if (o.order_no === hooks.selected()) tr.className = "selected";
  const pick = el("button", o.order_no, "link");
  pick.type = "button";
  pick.setAttribute("aria-label", `查看缴费单 ${o.order_no}`);
  pick.addEventListener("click", () => hooks.onPick(o.order_no));
  const number = el("td");
  number.append(pick);
  const state = el("td");
  state.append(el("span", o.state_zh, `badge s-${o.state}`));
  tr.append(
    el("td", clock(o.created_at)),
    number,
    el("td", o.case_no),
    el("td", o.payer_id_masked, "mono"),
    el("td", formatFen(o.total_fen), "num"),
    state,
  );
  return tr;
}

async function load() {
  const { office, windowNo } = hooks.context();
  if (!office) return;
  const query = new URLSearchParams({ office, window: windowNo, date: today() });
  try {
    const out = await api("GET", `/api/v1/orders?${query}`);
    $("orders").replaceChildren(...out.orders.map(row));
    $("list-empty").hidden = out.orders.length > 0;
    const paid = out.orders.filter((o) => o.state === "CLEARED" || o.state === "SETTLED").length;
    $("list-count").textContent = `共 ${out.orders.length} 笔，已缴费 ${paid} 笔`;
    hooks.onError(null, "");
  } catch (err) {
    hooks.onError(err, messageOf(err));
  }
}

/** Reload soon; a burst of events makes one request. */
export function reloadList(delayMs = 150) {
  clearTimeout(timer);
  timer = setTimeout(load, delayMs);
}

export function markSelected(orderNo) {
  for (const tr of $("orders").querySelectorAll("tr")) {
    tr.classList.toggle("selected", tr.dataset.orderNo === orderNo);
  }
}

export function setupOrderList(options) {
  hooks = options;
  $("list-refresh").addEventListener("click", () => reloadList(0));
  return load();
}

// The 当前缴费单 panel: amount, how it is being paid, live state, and what the clerk may do next.
import { api, messageOf } from "./api.js";
import { nameOf as displayName, windowName } from "./naming.js";
import { $, el } from "./dom.js";
import { formatFen } from "./money.js";
import { focusCode, nameOf, renderPay, resetPay, setupPayMethods } from "./pay-methods.js";
import { renderRefunds, setupRefunds } from "./refund-panel.js";
import { renderNotice, setupNotice } from "./notice-panel.js";
import { dateTime } from "./time.js";

const PAID = new Set(["CLEARED", "SETTLED"]);
const UNPAID = new Set(["OPEN", "PAYING"]);
const FINAL_NOTE = {
  EXPIRED: "缴费单已超过有效期，如需缴费请重新开具。",
  CANCELLED: "缴费单已撤销，收款码已失效。",
  EXCEPTION: "支付金额或状态异常，款项将自动原路退回，请联系值班主任处理。",
  REFUNDING: "款项正在原路退回缴款人。",
  REFUNDED: "款项已原路退回缴款人。",
};

let order = null;
let fetchSeq = 0; // answers to older requests are dropped: the clerk may have moved on
let hooks = { onChanged: () => {}, onUnauthorized: () => {}, onShown: () => {} };

function showError(err) {
  if (err && err.status === 401) hooks.onUnauthorized();
  $("current-error").textContent = err ? messageOf(err) : "";
}

function renderState(state, stateZh) {
  const badge = $("c-badge");
  badge.hidden = false;
  badge.className = `badge s-${state}`;
  badge.textContent = stateZh || displayName("order_state", state);
  const paid = PAID.has(state);
  $("c-paid").hidden = !paid;
  const note = FINAL_NOTE[state];
  $("c-final").hidden = !note;
  if (note) {
    $("c-final").className = `final-banner s-${state}`;
    $("c-final-word").textContent = stateZh || displayName("order_state", state);
    $("c-final-note").textContent = note;
  }
  if (!UNPAID.has(state)) {
    for (const id of ["pay", "c-qr", "c-wait"]) $(id).hidden = true;
  }
  if (!paid) $("c-refund").hidden = true;
  if (state !== "OPEN") $("c-notice").hidden = true;
  $("c-cancel").hidden = !UNPAID.has(state);
  $("c-print").hidden = !paid;
}

function render(o) {
  hooks.onShown(o.order_no); // the citizen's screen at this window follows the order shown here
  $("current-empty").hidden = true;
  $("current").hidden = false;
  renderState(o.state, o.state_zh);
  const payment = o.payments.find((p) => p.outcome === "CLEARED");
  const paidWith = payment ? `${nameOf(payment.provider)} · ` : "";
  $("c-paid-at").textContent = `${paidWith}缴费时间 ${dateTime(payment ? payment.paid_at : o.cleared_at)}`;
  if (o.state === "EXCEPTION" && o.exception_reason) {
    $("c-final-note").textContent = `${FINAL_NOTE.EXCEPTION}（${o.exception_reason}）`;
  }
  $("c-total").textContent = o.total_display;
  $("c-capital").textContent = o.total_capital;
  renderPay(o);
  renderRefunds(o);
  renderNotice(o);
  $("c-print").href = `/orders/${encodeURIComponent(o.order_no)}/receipt?print=1`;

  $("c-order-no").textContent = o.order_no;
  $("c-case-no").textContent = o.case_no;
  $("c-payer").textContent = o.payer_name;
  $("c-payer-id").textContent = o.payer_id_masked;
  $("c-created").textContent = `${dateTime(o.created_at)}（${windowName(o.office, o.window)}，${o.created_by_name || displayName("user", o.created_by)}）`;
  $("c-lines").replaceChildren(
    ...o.lines.map((line) => {
      const tr = el("tr");
      const name = el("td", line.item_name);
      if (line.reference) name.append(el("div", line.reference, "muted mono"));
      tr.append(name, el("td", line.beneficiary_name), el("td", formatFen(line.amount_fen), "num"));
      return tr;
    }),
  );
}

async function refresh(orderNo) {
  const seq = ++fetchSeq;
  try {
    const fresh = await api("GET", `/api/v1/orders/${encodeURIComponent(orderNo)}`);
    if (seq !== fetchSeq) return;
    order = fresh;
    render(order);
  } catch (err) {
    if (seq === fetchSeq) showError(err);
  }
}

async function cancelOrder(reason) {
  const orderNo = order.order_no;
  const fresh = await api("POST", `/api/v1/orders/${encodeURIComponent(orderNo)}/cancel`, {
    body: { reason },
  });
  if (order && order.order_no === orderNo) {
    order = fresh;
    render(order);
  }
  hooks.onChanged();
}

function setupCancelDialog() {
  const dialog = $("cancel-dialog");
  const reason = $("cancel-reason");
  const errorBox = $("cancel-error");
  $("c-cancel").addEventListener("click", () => {
    reason.value = "";
    reason.removeAttribute("aria-invalid");
    errorBox.textContent = "";
    dialog.showModal();
    reason.focus();
  });
  $("cancel-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const text = reason.value.trim();
    if (!text) {
      reason.setAttribute("aria-invalid", "true");
      errorBox.textContent = "请填写撤销原因。";
      reason.focus();
      return;
    }
    const confirm = $("cancel-confirm");
    confirm.disabled = true;
    try {
      await cancelOrder(text);
      dialog.close();
      $("current-title").focus();
    } catch (err) {
      if (err.status === 401) hooks.onUnauthorized();
      errorBox.textContent = messageOf(err);
    } finally {
      confirm.disabled = false;
    }
  });
}

export function setupOrderPanel({ config, me, onChanged, onUnauthorized, onShown = () => {} }) {
  hooks = { onChanged, onUnauthorized, onShown };
  setupPayMethods({
    config,
    windowTerminal: me.terminal_id,
    async onStarted(orderNo) {
      await refresh(orderNo);
      hooks.onChanged();
    },
    onUnauthorized,
  });
  setupRefunds({ me, onChanged, onUnauthorized });
  setupCancelDialog();
  setupNotice({ currentOrder: () => order, unauthorized: onUnauthorized });
}

/** Show an order just created, ready to take its payment: the scanner input has focus. */
export function showNewOrder(created) {
  fetchSeq++;
  order = created;
  showError(null);
  resetPay();
  render(order);
  $("current-title").scrollIntoView({ block: "nearest" });
  focusCode();
}

/** Show an order picked from the list. */
export async function showOrder(orderNo) {
  showError(null);
  if (!order || order.order_no !== orderNo) resetPay();
  await refresh(orderNo);
  if (order && order.order_no === orderNo) focusCode();
}

export function currentOrderNo() {
  return order ? order.order_no : null;
}

/** An event about an order: the shown one changes its badge now, and is fetched again. */
export function applyEvent(event) {
  if (!order || event.order_no !== order.order_no) return;
  if (event.state) renderState(event.state, null);
  refresh(order.order_no);
}

/** Whether the shown order still waits for its payment. */
export function isWaiting() {
  return Boolean(order) && (order.state === "OPEN" || order.state === "PAYING");
}

/** After missed events: fetch the shown order again. */
export function resync() {
  if (order) refresh(order.order_no);
}

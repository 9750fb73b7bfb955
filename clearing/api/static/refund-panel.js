// Refunds on the window screen: the order's refund requests, and 申请退款 for a supervisor.
import { api, messageOf } from "./api.js";
import { nameOf } from "./naming.js";
import { $, el } from "./dom.js";
import { dateTime } from "./time.js";
import { capitalFen, formatFen } from "./money.js";
import { heldLines, refundStateZh } from "./refunds.js";

// clearing.service.refunds.REQUEST_ROLES
const REQUEST_ROLES = new Set(["supervisor", "admin"]);
const PAID = new Set(["CLEARED", "SETTLED"]);
const WITH_REFUNDS = new Set(["CLEARED", "SETTLED", "REFUNDING", "REFUNDED"]);

let role = "";
let order = null;
let refunds = [];
let fetchSeq = 0;
let hooks = { onChanged: () => {}, onUnauthorized: () => {} };

function freeLines() {
  const held = heldLines(refunds);
  return order.lines.filter((line) => !held.has(line.line_no));
}

function renderList() {
  const shown = Boolean(order) && refunds.length > 0;
  $("c-refunds").hidden = !shown;
  $("c-refund").hidden = !(
    order && PAID.has(order.state) && REQUEST_ROLES.has(role) && freeLines().length > 0
  );
  if (!shown) return;
  const names = new Map(order.lines.map((line) => [line.line_no, line.item_name]));
  $("c-refund-list").replaceChildren(
    ...refunds.map((r) => {
      const li = el("li");
      const head = el("div", "", "refund-head");
      head.append(
        el("span", formatFen(r.amount_fen), "refund-amount"),
        el("span", refundStateZh(r.state), `badge r-${r.state}`),
      );
      const items = r.lines.map((line) => names.get(line.line_no) || `第${line.line_no}项`);
      li.append(
        head,
        el("div", `${items.join("、")} · ${r.reason}`, "refund-what"),
        el("div", refundFacts(r), "muted refund-facts"),
      );
      return li;
    }),
  );
}

function refundFacts(r) {
  let text = `${dateTime(r.created_at)} ${nameOf("user", r.requested_by)} 申请`;
  if (r.decided_by) text += `；${nameOf("user", r.decided_by)} ${r.state === "REJECTED" ? "驳回" : "审批"}`;
  if (r.decision_note) text += `：${r.decision_note}`;
  return text;
}

async function load(orderNo) {
  const seq = ++fetchSeq;
  try {
    const out = await api("GET", `/api/v1/orders/${encodeURIComponent(orderNo)}/refunds`);
    if (seq !== fetchSeq || !order || order.order_no !== orderNo) return;
    refunds = out.refunds;
    renderList();
  } catch (err) {
    if (err.status === 401) hooks.onUnauthorized();
    // the list is an extra: the order itself is still shown correctly without it
  }
}

/** The shown order changed or was fetched again. */
export function renderRefunds(o) {
  if (!order || order.order_no !== o.order_no) refunds = [];
  order = o;
  renderList();
  if (WITH_REFUNDS.has(o.state)) load(o.order_no);
  else fetchSeq++;
}

function selectedLines() {
  return [...$("refund-lines").querySelectorAll("input:checked")].map((box) => Number(box.value));
}

function updateSum() {
  const chosen = new Set(selectedLines());
  let total = 0n;
  for (const line of order.lines) if (chosen.has(line.line_no)) total += BigInt(line.amount_fen);
  $("refund-total").textContent = formatFen(total);
  $("refund-capital").textContent = total > 0n ? `人民币${capitalFen(total)}` : "";
}

function openDialog() {
  const held = heldLines(refunds);
  $("refund-lines").replaceChildren(
    ...order.lines.map((line) => {
      const id = `refund-line-${line.line_no}`;
      const row = el("div", "", "refund-line");
      const box = el("input");
      box.type = "checkbox";
      box.id = id;
      box.value = String(line.line_no);
      const taken = held.get(line.line_no);
      box.checked = !taken;
      box.disabled = Boolean(taken);
      const label = el("label");
      label.htmlFor = id;
      label.append(
        el("span", `${line.line_no}. ${line.item_name}`, "refund-item"),
        el("span", line.beneficiary_name, "muted refund-payee"),
        el("span", formatFen(line.amount_fen), "num"),
      );
      if (taken) label.append(el("span", `（${refundStateZh(taken.state)}）`, "muted"));
      row.append(box, label);
      return row;
    }),
  );
  $("refund-reason").value = "";
  $("refund-reason").removeAttribute("aria-invalid");
  $("refund-error").textContent = "";
  updateSum();
  $("refund-dialog").showModal();
  $("refund-reason").focus();
}

async function submit(event) {
  event.preventDefault();
  const reason = $("refund-reason").value.trim();
  const lines = selectedLines();
  const errorBox = $("refund-error");
  if (!lines.length) {
    errorBox.textContent = "请至少选择一个退款项目。";
    return;
  }
  if (!reason) {
    $("refund-reason").setAttribute("aria-invalid", "true");
    errorBox.textContent = "请填写退款原因。";
    $("refund-reason").focus();
    return;
  }
  const confirm = $("refund-confirm");
  confirm.disabled = true;
  const orderNo = order.order_no;
  try {
    await api("POST", `/api/v1/orders/${encodeURIComponent(orderNo)}/refunds`, {
      body: { lines, reason },
    });
    $("refund-dialog").close();
    await load(orderNo);
    hooks.onChanged();
    $("c-refunds").scrollIntoView({ block: "nearest" });
  } catch (err) {
    if (err.status === 401) hooks.onUnauthorized();
    errorBox.textContent = messageOf(err);
  } finally {
    confirm.disabled = false;
  }
}

export function setupRefunds({ me, onChanged, onUnauthorized }) {
  role = me.role;
  hooks = { onChanged, onUnauthorized };
  $("c-refund").addEventListener("click", openDialog);
  $("refund-lines").addEventListener("change", updateSum);
  $("refund-reason").addEventListener("input", () => $("refund-reason").removeAttribute("aria-invalid"));
  $("refund-form").addEventListener("submit", submit);
}

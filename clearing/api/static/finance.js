// The finance page. 审批退款 (here): the refund requests that wait for finance, with the order they
// belong to; a finance user approves or rejects each (never one they asked for themselves: the
// server refuses that). 清分结算 (settlement.js), 收款账户 (accounts.js) and 对账差异
// (discrepancies.js) are their own modules.
import "./staff-parts.js"; // first: it makes the parts the others look up
import { initAccounts } from "./accounts.js";
import { api, clearSession, messageOf, sessionToken, wireLogout } from "./api.js";
import { initDiscrepancies } from "./discrepancies.js";
import { decisionDialog } from "./four-eyes.js";
import { nameOf, personAndRole } from "./naming.js";
import { $, el } from "./dom.js";
import { capitalFen, formatFen } from "./money.js";
import { refundStateZh } from "./refunds.js";
import { initSettlement } from "./settlement.js";
import { dateTime } from "./time.js";

const RELOAD_MS = 20000;
const ACTIONS = {
  approve: {
    title: "同意退款",
    confirm: "确认同意",
    className: "primary",
    label: "审批意见（选填）",
    notes: ["同意", "核实无误，同意退款"],
    done: (r) => `已同意退款申请 ${r.out_refund_no}（${formatFen(r.amount_fen)}），款项将按原支付渠道退回缴款人。`,
  },
  reject: {
    title: "驳回退款申请",
    confirm: "确认驳回",
    className: "danger",
    label: "驳回原因",
    notes: ["材料不全，请补充后重新申请", "退款原因不成立", "退款项目有误，请重新申请"],
    done: (r) => `已驳回退款申请 ${r.out_refund_no}，相关项目可由值班主任重新申请。`,
  },
};

let canDecide = false;
let refunds = [];
const orders = new Map(); // order_no → order view (or null when it cannot be read)
let openDecision = null; // (refund, action): the decision dialog, wired in main
let timer = null;

function signOut() {
  clearSession();
  location.replace("/login?next=/finance");
}

function pageError(text) {
  $("page-error").textContent = text;
}

function flash(text) {
  $("flash").textContent = text;
}

async function orderOf(orderNo) {
  if (!orders.has(orderNo)) {
    try {
      orders.set(orderNo, await api("GET", `/api/v1/orders/${encodeURIComponent(orderNo)}`));
    } catch (err) {
      if (err.status === 401) throw err;
      orders.set(orderNo, null); // shown without its order's details, never hidden
    }
  }
  return orders.get(orderNo);
}

function orderCell(r, o) {
  const td = el("td");
  td.append(el("div", r.order_no, "mono"));
  if (o) {
    td.append(el("div", `${o.case_no} · ${o.payer_name}`, "muted small"));
    const paid = o.payments.find((p) => p.outcome === "CLEARED");
    const channel = paid ? `，${nameOf("channel", paid.provider)}` : "";
    td.append(el("div", `原缴费 ${o.total_display}${channel}`, "muted small"));
  }
  return td;
}

function linesCell(r, o) {
  const td = el("td");
  const names = new Map((o ? o.lines : []).map((line) => [line.line_no, line]));
  if (o && r.lines.length === o.lines.length) td.append(el("span", "全额退款", "tag"));
  const ul = el("ul", "", "items");
  for (const line of r.lines) {
    const known = names.get(line.line_no);
    const li = el("li");
    li.append(
      el("span", known ? known.item_name : `第${line.line_no}项`),
      el("span", formatFen(line.amount_fen), "num"),
    );
    if (known) li.title = known.beneficiary_name;
    ul.append(li);
  }
  td.append(ul);
  return td;
}

function actionsCell(r) {
  const td = el("td", "", "c-op");
  if (!canDecide || r.state !== "REQUESTED") return td;
  for (const [action, label, className] of [["approve", "同意", "primary"], ["reject", "驳回", "danger"]]) {
    const button = el("button", label, `small ${className}`);
    button.type = "button";
    button.setAttribute("aria-label", `${label}退款申请 ${r.out_refund_no}`);
    button.addEventListener("click", () => openDecision(r, action));
    td.append(button);
  }
  return td;
}

function row(r) {
  const o = orders.get(r.order_no);
  const tr = el("tr");
  tr.dataset.refundId = String(r.id);
  const first = el("td");
  // the refund number the channel is given: what a bank statement will show
  first.append(el("div", r.out_refund_no, "mono"), el("div", dateTime(r.created_at), "muted small"));
  const amount = el("td", "", "num amount");
  amount.append(el("div", formatFen(r.amount_fen), "figure"), el("div", capitalFen(r.amount_fen), "capital"));
  const reason = el("td", r.reason, "reason");
  if (r.decision_note) reason.append(el("div", `审批意见：${r.decision_note}`, "muted small"));
  const state = el("td");
  state.append(el("span", refundStateZh(r.state), `badge r-${r.state}`));
  if (r.decided_by) state.append(el("div", `审批人 ${nameOf("user", r.decided_by)}`, "muted small"));
  tr.append(first, orderCell(r, o), linesCell(r, o), amount, reason, el("td", nameOf("user", r.requested_by)), state, actionsCell(r));
  return tr;
}

function render() {
  // waiting for a decision first, then those under way at the channel
  const sorted = [...refunds].sort((a, b) => (a.state === "REQUESTED" ? 0 : 1) - (b.state === "REQUESTED" ? 0 : 1) || a.id - b.id);
  $("refunds").replaceChildren(...sorted.map(row));
  $("empty").hidden = refunds.length > 0;
  const waiting = refunds.filter((r) => r.state === "REQUESTED").length;
  $("count").textContent = `待审批 ${waiting} 笔，共 ${refunds.length} 笔`;
}

async function load() {
  clearTimeout(timer);
  try {
    const out = await api("GET", "/api/v1/refunds");
    await Promise.all([...new Set(out.refunds.map((r) => r.order_no))].map(orderOf));
    // decisions taken here stay visible until the next reload shows where they went
    refunds = out.refunds;
    render();
    pageError("");
  } catch (err) {
    if (err.status === 401) signOut();
    else pageError(`退款申请加载失败：${messageOf(err)}`);
  } finally {
    timer = setTimeout(() => {
      if (!$("decide-dialog").open) load();
      else timer = setTimeout(load, RELOAD_MS);
    }, RELOAD_MS);
  }
}

async function main() {
  if (!sessionToken()) {
    signOut();
    return;
  }
  let me;
  try {
    me = await api("GET", "/api/v1/me");
  } catch (err) {
    if (err.status === 401) signOut();
    else pageError(`页面加载失败：${messageOf(err)}`);
    return;
  }
  $("who").textContent = personAndRole(me);
  wireLogout($("logout"), () => {
    clearSession();
    location.replace("/login");
  });
  canDecide = me.role === "finance";
  $("readonly").hidden = canDecide;
  // the window screen is for window staff; an administrator goes back to 系统管理
  $("to-window").hidden = me.role !== "admin";
  if (me.role === "admin") {
    $("to-window").href = "/admin";
    $("to-window").textContent = "系统管理";
  }
  $("refresh").addEventListener("click", () => {
    flash("");
    load();
  });
  openDecision = decisionDialog({
    ids: {
      dialog: "decide-dialog", form: "decide-form", title: "decide-title", noteLabel: "decide-note-label",
      note: "decide-note", confirm: "decide-confirm", error: "decide-error",
    },
    actions: ACTIONS,
    path: (refund, action) => `/api/v1/refunds/${refund.id}/${action}`,
    fill: (refund, a) => {
      $("d-order").textContent = refund.order_no;
      $("d-amount").textContent = formatFen(refund.amount_fen);
      $("d-capital").textContent = `人民币${capitalFen(refund.amount_fen)}`;
      $("d-reason").textContent = refund.reason;
      $("decide-notes").replaceChildren(...a.notes.map((n) => {
        const option = el("option");
        option.value = n;
        return option;
      }));
    },
    rejectHint: "请填写驳回原因，以便值班主任了解情况。",
    ownRequest: "您是该退款申请的申请人，不能审批自己的申请，请由另一位财务人员审批。",
    lateCode: "REFUND_ALREADY_DECIDED",
    flash,
    decided: (decided) => {
      refunds = refunds.map((r) => (r.id === decided.id ? decided : r));
      render();
    },
    reload: load,
    authLost: signOut,
  });
  await Promise.all([
    load(),
    initSettlement({ authLost: signOut }),
    initAccounts(me, { authLost: signOut }),
    initDiscrepancies(me, { authLost: signOut }),
  ]);
}

main();

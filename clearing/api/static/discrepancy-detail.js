// One discrepancy of 对账差异, opened under its row: its facts, comments, assignment, resolution
// with a reason, void, an adjusting entry proposed by one person and approved by another (the
// server refuses the proposer's own decision, and this page does not offer it), and the matches a
// rule proposed; each decision asked for in the section's dialog. Auditors only read.
// The list (discrepancies.js) imports this module, never the other way round: it lends its reload
// through initDetail, and uses the helpers both need (money, buttons, messages). Every code is
// shown by its name (display.js), every time in Beijing time (time.js).
import { api, messageOf } from "./api.js";
import { actorName, nameOf, sourceName } from "./naming.js";
import { $, el } from "./dom.js";
import { formatFen, parseYuan } from "./money.js";
import { dateTime } from "./time.js";

let me = null;
let canAct = false;
let onAuthLost = () => {};
let reload = async () => {}; // the list, after an action
let accounts = null; // ledger accounts for the adjustment form, loaded once
let asking = null; // what the dialog's confirm button does

const live = (d) => d.state === "OPEN" || d.state === "ASSIGNED";
export const money = (fen) => (fen === null || fen === undefined ? "—" : formatFen(fen));
const typeName = (d) => nameOf("discrepancy_type", d.type);

// "wechatpay:4200…" (a source, then its reference) → "微信支付 4200…"
function refText(ref) {
  const i = (ref || "").indexOf(":");
  if (i < 0) return ref || "—";
  const name = sourceName(ref.slice(0, i));
  return name === ref.slice(0, i) ? ref : `${name} ${ref.slice(i + 1)}`;
}

// one fact of a discrepancy's detail, by its key: codes by their names, amounts as money
function detailValue(key, value) {
  if (value === null || value === undefined || value === "") return "—";
  if (key === "unit") return nameOf("detail_unit", value);
  if (key === "refund") return nameOf("detail_refund", value);
  if (key === "confirm_state") return nameOf("leg_state", value);
  if (key === "provider") return nameOf("channel", value);
  if (typeof value === "boolean") return value ? "是" : "否";
  if (key === "state") return nameOf("instruction_state", value);
  if (key === "reason_code") return nameOf("bank_reason", value);
  if (key === "confidence") return `${value}%`;
  if (key.endsWith("_fen") && Number.isInteger(value)) return money(value);
  if (typeof value === "object") {
    return Object.entries(value).map(([k, v]) => `${nameOf("detail_key", k)}：${detailValue(k, v)}`).join("；");
  }
  return String(value);
}

export function flash(text) {
  $("recon-flash").textContent = text;
}

export function failed(err, what) {
  if (err.status === 401) onAuthLost();
  $("recon-error").textContent = `${what}：${messageOf(err)}`;
}

export function button(label, className, aria, onClick) {
  const b = el("button", label, `small ${className}`.trim());
  b.type = "button";
  if (aria) b.setAttribute("aria-label", aria);
  b.addEventListener("click", onClick);
  return b;
}

// --- one discrepancy -----------------------------------------------------------------------

/** Discrepancy ``id`` as it is now, with what this user may do about it, for its row's detail. */
export async function detailPanel(id) {
  const d = await api("GET", `/api/v1/discrepancies/${id}`);
  if (canAct && accounts === null) accounts = (await api("GET", "/api/v1/ledger-accounts")).accounts;
  return panel(d);
}

function facts(d) {
  const dl = el("dl", "", "recon-facts");
  const add = (label, value, className = "") => dl.append(el("dt", label), el("dd", value, className));
  add("差异类型", `${typeName(d)}（${sourceName(d.source)}）`);
  add("对方单号", d.reference, "mono");
  add("我方单号", d.our_ref || "—", "mono");
  add("我方金额 / 对方金额", `${money(d.amount_fen)} / ${money(d.their_amount_fen)}`);
  add("差额（对方减我方）", money(d.difference_fen));
  add("发现", `第 ${d.first_run_id} 次对账，${dateTime(d.created_at)}；最近一次 第 ${d.last_run_id} 次`);
  for (const [key, value] of Object.entries(d.detail || {})) {
    add(nameOf("detail_key", key), detailValue(key, value), "small");
  }
  if (!live(d)) add(nameOf("discrepancy_state", d.state), `${d.resolution || ""}（${actorName(d.resolved_by)}，${dateTime(d.resolved_at)}）`);
  return dl;
}

function panel(d) {
  const box = el("div", "", "recon-detail");
  box.append(facts(d));
  if (canAct && live(d)) {
    const bar = el("div", "", "recon-actions");
    if (d.assigned_to !== me.username) {
      bar.append(button("指派给我", "", "", () => act(d, "assign", { username: me.username }, "已指派给您。")));
    }
    if (d.pending_adjustments) {
      // the server refuses both while an adjustment waits: its approval resolves the case
      bar.append(el("span", "调整分录待审批：同意后该差异自动解决，驳回后可另行处理。", "muted small"));
    } else {
      bar.append(
        button("解决", "primary", "", () => askReason(d, "resolve", "解决差异", "处理说明（如：次日已到账，已核对）")),
        button("作废", "danger", "", () => askReason(d, "void", "作废差异", "作废原因（如：测试交易，非差异）")),
      );
    }
    box.append(bar);
  }
  if (d.matches.length) box.append(el("h3", "匹配建议"), matchesList(d));
  box.append(el("h3", "调整分录"));
  if (d.adjustments.length) box.append(adjustmentsList(d));
  else box.append(el("p", "暂无调整分录。", "muted small"));
  if (canAct && live(d) && !d.pending_adjustments) box.append(adjustmentForm(d));
  box.append(el("h3", "备注"), commentsList(d));
  if (canAct) box.append(commentForm(d));
  return box;
}

// the case's records (matches, adjustments, comments), one line of ``parts`` each
function recordList(records, parts) {
  const ul = el("ul", "", "recon-list");
  for (const r of records) {
    const li = el("li");
    li.append(...parts(r));
    ul.append(li);
  }
  return ul;
}

// a decision on a record: yes (``yes`` verdict) or 驳回 (``no``), each named for a screen reader
function decisionButtons(yesLabel, yesVerb, what, decide, [yes, no]) {
  return [
    button(yesLabel, "primary", `${yesVerb}${what}`, () => decide(yes)),
    button("驳回", "danger", `驳回${what}`, () => decide(no)),
  ];
}

function matchesList(d) {
  return recordList(d.matches, (m) => [
    el("span", nameOf("match_state", m.state), `badge m-${m.state}`),
    el("span", `规则：${nameOf("match_rule", m.rule)}，置信度 ${m.confidence}%，${money(m.amount_fen)}`),
    el("span", `${refText(m.external_ref)} ↔ ${refText(m.internal_ref)}`, "mono small"),
    ...(canAct && m.state === "PROPOSED"
      ? decisionButtons("确认匹配", "确认", `匹配建议 ${m.id}`, (v) => decideMatch(m, v), ["confirm", "reject"])
      : []),
  ]);
}

function legsText(legs) {
  return legs.map(([code, fen]) => `${BigInt(fen) > 0n ? "借" : "贷"} ${nameOf("ledger_account", code)} ${formatFen(BigInt(fen) < 0n ? -BigInt(fen) : fen)}`).join("；");
}

function adjustmentActions(a) {
  if (!canAct || a.state !== "REQUESTED") return [];
  // the proposer never decides their own: the server refuses it, so it is not offered
  if (a.requested_by === me.username) return [el("span", "待其他财务人员审批", "muted small")];
  return decisionButtons("同意并过账", "同意", `调整分录 ${a.id}`, (v) => decideAdjustment(a, v), ["approve", "reject"]);
}

function adjustmentsList(d) {
  return recordList(d.adjustments, (a) => [
    el("span", nameOf("adjustment_state", a.state), `badge a-${a.state}`),
    el("span", `#${a.id} ${a.memo}`),
    el("span", legsText(a.legs), "small"),
    el("span", `提议人 ${nameOf("user", a.requested_by)}，${dateTime(a.requested_at)}` + (a.decided_by ? `；审批人 ${nameOf("user", a.decided_by)}，${dateTime(a.decided_at)}` : "") + (a.entry_id ? `；记账凭证 ${a.entry_id}` : ""), "muted small"),
    ...adjustmentActions(a),
  ]);
}

function accountSelect(label) {
  const select = el("select");
  select.setAttribute("aria-label", label);
  select.append(new Option(`选择${label}`, ""));
  for (const a of accounts || []) select.append(new Option(a.name, a.code));
  return select;
}

function adjustmentForm(d) {
  const form = el("form", "", "recon-adjust");
  form.noValidate = true;
  const debit = accountSelect("借方科目");
  const credit = accountSelect("贷方科目");
  const amount = el("input");
  amount.inputMode = "decimal";
  amount.placeholder = "金额（元）";
  amount.setAttribute("aria-label", "金额（元）");
  const memo = el("input");
  memo.maxLength = 200;
  memo.placeholder = "调整摘要";
  memo.setAttribute("aria-label", "调整摘要");
  const error = el("p", "", "alert");
  const submit = el("button", "提交调整", "small primary");
  submit.type = "submit";
  form.append(el("h3", "提议调整分录（须另一位财务人员同意后过账）"), debit, credit, amount, memo, submit, error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const fen = parseYuan(amount.value); // BigInt fen: the yuan text is never a float
    if (!debit.value || !credit.value) error.textContent = "请选择借方和贷方科目。";
    else if (debit.value === credit.value) error.textContent = "借方和贷方不能是同一科目。";
    else if (fen === null || fen <= 0n || fen > BigInt(Number.MAX_SAFE_INTEGER)) error.textContent = "金额应为大于零的元金额，最多两位小数。";
    else if (memo.value.trim().length < 2) error.textContent = "请填写调整摘要。";
    else {
      const legs = [[debit.value, Number(fen)], [credit.value, -Number(fen)]];
      submit.disabled = true;
      await act(d, "adjustments", { legs, memo: memo.value.trim() }, `已提交调整分录（${formatFen(fen)}），须由另一位财务人员同意后过账。`, error);
      submit.disabled = false;
    }
  });
  return form;
}

function commentsList(d) {
  if (!d.comments.length) return el("p", "暂无备注。", "muted small");
  return recordList(d.comments, (c) => [
    el("span", `${c.author_name} ${dateTime(c.created_at)}`, "muted small"),
    el("span", c.body, "comment"),
  ]);
}

function commentForm(d) {
  const form = el("form", "", "recon-comment");
  form.noValidate = true;
  const body = el("textarea");
  body.maxLength = 2000;
  body.rows = 2;
  body.setAttribute("aria-label", "备注");
  const submit = el("button", "添加备注", "small");
  submit.type = "submit";
  const error = el("p", "", "alert");
  form.append(body, submit, error);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!body.value.trim()) {
      error.textContent = "请填写备注内容。";
      return;
    }
    await act(d, "comments", { body: body.value.trim() }, "已添加备注。", error);
  });
  return form;
}

// --- acting ----------------------------------------------------------------------------------

async function post(path, body, done, errorBox) {
  try {
    const out = await api("POST", path, body === undefined ? {} : { body });
    flash(done);
    await reload();
    return out;
  } catch (err) {
    if (err.status === 401) onAuthLost();
    const code = err.problem && err.problem.code;
    const text = code === "FOUR_EYES" ? "您是该调整分录的提议人，不能审批自己的提议，请由另一位财务人员审批。" : messageOf(err);
    if (errorBox) errorBox.textContent = text;
    else failed(err, "操作未完成");
    if (code && code.endsWith("ALREADY_DECIDED")) await reload();
    throw err;
  }
}

async function act(d, action, body, done, errorBox) {
  try {
    await post(`/api/v1/discrepancies/${d.id}/${action}`, body, done, errorBox);
  } catch {
    // shown where the user acted
  }
}

function ask({ title, facts: text, label, required, confirm, className, run }) {
  asking = { required, run };
  $("recon-dialog-title").textContent = title;
  $("recon-dialog-facts").textContent = text;
  $("recon-dialog-label").textContent = label || "";
  $("recon-dialog-label").hidden = !label;
  const input = $("recon-dialog-text");
  input.hidden = !label;
  input.value = "";
  input.removeAttribute("aria-invalid");
  $("recon-dialog-confirm").textContent = confirm;
  $("recon-dialog-confirm").className = className;
  $("recon-dialog-error").textContent = "";
  $("recon-dialog").className = className === "danger" ? "decide-reject" : "";
  $("recon-dialog").showModal();
  if (label) input.focus();
}

function askReason(d, action, title, label) {
  ask({
    title, label, required: 2, confirm: action === "void" ? "确认作废" : "确认解决",
    className: action === "void" ? "danger" : "primary",
    facts: `${typeName(d)} · ${d.reference} · 差额 ${money(d.difference_fen)}`,
    run: (reason) => post(`/api/v1/discrepancies/${d.id}/${action}`, { reason }, `差异 ${d.id} 已${action === "void" ? "作废" : "解决"}。`, $("recon-dialog-error")),
  });
}

function decideAdjustment(a, verdict) {
  const approve = verdict === "approve";
  ask({
    title: approve ? "同意调整分录并过账" : "驳回调整分录",
    facts: `#${a.id} ${a.memo}：${legsText(a.legs)}。${approve ? "同意后立即记账，并将该差异标记为已解决。" : ""}`,
    label: approve ? "审批意见（选填）" : "驳回原因",
    required: approve ? 0 : 1,
    confirm: approve ? "确认过账" : "确认驳回",
    className: approve ? "primary" : "danger",
    run: (note) => post(`/api/v1/adjustments/${a.id}/${verdict}`, note ? { note } : {}, approve ? `调整分录 #${a.id} 已过账，差异已解决。` : `调整分录 #${a.id} 已驳回。`, $("recon-dialog-error")),
  });
}

function decideMatch(m, verdict) {
  const confirm = verdict === "confirm";
  ask({
    title: confirm ? "确认匹配" : "驳回匹配建议",
    facts: `${refText(m.external_ref)} ↔ ${refText(m.internal_ref)}，${money(m.amount_fen)}（规则：${nameOf("match_rule", m.rule)}，置信度 ${m.confidence}%）`,
    required: 0,
    confirm: confirm ? "确认匹配" : "确认驳回",
    className: confirm ? "primary" : "danger",
    run: () => post(`/api/v1/recon-matches/${m.id}/${verdict}`, undefined, confirm ? "已确认匹配，相关差异已解决。" : "已驳回匹配建议。", $("recon-dialog-error")),
  });
}

async function confirmDialog(event) {
  event.preventDefault();
  if (!asking) return;
  const input = $("recon-dialog-text");
  const text = input.hidden ? "" : input.value.trim();
  if (text.length < asking.required) {
    input.setAttribute("aria-invalid", "true");
    $("recon-dialog-error").textContent = asking.required > 1 ? "请填写说明（至少2个字）。" : "请填写原因。";
    input.focus();
    return;
  }
  const confirm = $("recon-dialog-confirm");
  confirm.disabled = true;
  try {
    await asking.run(text);
    $("recon-dialog").close();
  } catch {
    // the dialog shows why
  } finally {
    confirm.disabled = false;
  }
}

/** Wire the detail and the dialog for ``who``; the list lends its reload. */
export function initDetail(who, section) {
  me = who;
  canAct = section.canAct;
  reload = section.reload;
  onAuthLost = section.authLost;
  $("recon-dialog-form").addEventListener("submit", confirmDialog);
  $("recon-dialog-text").addEventListener("input", () => $("recon-dialog-text").removeAttribute("aria-invalid"));
}

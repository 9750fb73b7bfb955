// 清分结算: the settlement batches of a business date, each with its instructions (one transfer per
// beneficiary account, with the bank's answer) and the signed files sent to the bank. Read-only:
// batches are made by the cut-off and moved by the bank's answers, never from this page.
import { api, messageOf } from "./api.js";
import { actorName, entries, nameOf } from "./naming.js";
import { $, el } from "./dom.js";
import { formatFen } from "./money.js";
import { dateTime, today } from "./time.js";

// only our own download route: a link built from anything else is not shown
const DOWNLOAD_PATH = /^\/settlement\/files\/[A-Za-z0-9._%-]+$/;

let onAuthLost = () => {};
const open = new Set(); // msg_ids whose details are shown

function failed(err, what) {
  if (err.status === 401) onAuthLost();
  $("settle-error").textContent = `${what}：${messageOf(err)}`;
}

function badge(text, className) {
  return el("span", text, `badge ${className}`);
}

function statesCell(b) {
  // only the states some instruction is in, in the order the bank moves them
  const td = el("td", "", "states");
  for (const [state, label] of entries("instruction_state")) {
    const n = b.instruction_states[state] || 0;
    if (n) td.append(badge(`${label} ${n}`, `i-${state}`));
  }
  return td;
}

function instructionsTable(d) {
  const table = el("table", "", "grid inner");
  table.append(el("caption", `批次 ${d.msg_id} 的付款指令`, "visually-hidden"));
  const head = el("tr");
  for (const [label, className] of [["序号", ""], ["收款单位", ""], ["账号", ""], ["金额", "num"], ["状态", ""], ["业务参考号", ""]]) {
    const th = el("th", label, className);
    th.scope = "col";
    head.append(th);
  }
  const thead = el("thead");
  thead.append(head);
  const tbody = el("tbody");
  for (const i of d.instructions) {
    const tr = el("tr");
    const who = el("td");
    who.append(el("div", i.beneficiary_name), el("div", `户名 ${i.creditor_name}`, "muted small"));
    const account = el("td");
    // the account as it was at cut-off: what the file says, whatever was corrected since
    account.append(
      el("div", i.creditor_account, "mono"),
      el("div", `${i.creditor_bank_name} · ${i.creditor_bank_code}`, "muted small"),
    );
    const state = el("td");
    state.append(badge(nameOf("instruction_state", i.state), `i-${i.state}`));
    if (i.reason_code || i.reason_text) {
      // the bank's reason by its name; its own words only for a code we have no name for
      const named = i.reason_code && nameOf("bank_reason", i.reason_code) !== i.reason_code;
      const why = named ? nameOf("bank_reason", i.reason_code) : [i.reason_code, i.reason_text].filter(Boolean).join(" ");
      state.append(el("div", `银行原因：${why}`, "reason small"));
    }
    if (i.answered_at) state.append(el("div", `回执 ${dateTime(i.answered_at)}`, "muted small"));
    const amount = el("td", "", "num");
    amount.append(el("div", formatFen(i.amount_fen), "figure"), el("div", `${i.line_count} 笔明细`, "muted small"));
    tr.append(el("td", String(i.seq), "num"), who, account, amount, state, el("td", i.end_to_end_id, "mono small"));
    tbody.append(tr);
  }
  table.append(thead, tbody);
  return table;
}

function filesList(d) {
  const ul = el("ul", "", "files");
  for (const f of d.files) {
    const li = el("li");
    if (DOWNLOAD_PATH.test(f.download_url)) {
      const a = el("a", f.name, "mono");
      a.href = f.download_url; // the session cookie carries the sign-in: a plain link works
      a.download = f.name;
      li.append(a);
    } else {
      li.append(el("span", f.name, "mono"));
    }
    const sha = el("span", `SHA-256 ${f.sha256.slice(0, 12)}…`, "muted small mono");
    sha.title = f.sha256;
    li.append(el("span", nameOf("file_kind", f.kind), "tag"), el("span", `${f.size.toLocaleString("zh-CN")} 字节`, "muted small"), sha);
    ul.append(li);
  }
  return ul;
}

function detailBody(d) {
  const box = el("div", "", "batch-detail");
  const facts = `执行日期 ${d.execution_date} · 生成人 ${actorName(d.created_by)} · 生成时间 ${dateTime(d.created_at)}` +
    (d.delivered_at ? ` · 送达银行 ${dateTime(d.delivered_at)}` : "");
  box.append(el("p", facts, "muted small"), instructionsTable(d), el("h3", "文件（点击下载，每次下载均记入审计日志）"));
  if (d.files.length) box.append(filesList(d));
  else box.append(el("p", "文件尚未生成。", "muted"));
  return box;
}

async function toggle(b, tr, button) {
  const next = tr.nextElementSibling;
  if (open.has(b.msg_id)) {
    open.delete(b.msg_id);
    if (next && next.dataset.detailOf === b.msg_id) next.remove();
    button.textContent = "查看明细";
    button.setAttribute("aria-expanded", "false");
    return;
  }
  button.disabled = true;
  try {
    const d = await api("GET", `/api/v1/settlement/batches/${encodeURIComponent(b.msg_id)}`);
    const row = el("tr", "", "detail-row");
    row.dataset.detailOf = b.msg_id;
    const td = el("td");
    td.colSpan = 9;
    td.append(detailBody(d));
    row.append(td);
    tr.after(row);
    open.add(b.msg_id);
    button.textContent = "收起";
    button.setAttribute("aria-expanded", "true");
  } catch (err) {
    failed(err, `批次 ${b.msg_id} 加载失败`);
  } finally {
    button.disabled = false;
  }
}

function row(b) {
  const tr = el("tr");
  tr.dataset.msgId = b.msg_id;
  const id = el("td");
  id.append(el("div", b.msg_id, "mono"), el("div", `当日第 ${b.seq} 批`, "muted small"));
  const total = el("td", "", "num");
  total.append(el("div", formatFen(b.total_fen), "figure"));
  const state = el("td");
  state.append(badge(nameOf("batch_state", b.state), `b-${b.state}`));
  const op = el("td", "", "c-op");
  const button = el("button", "查看明细", "small");
  button.type = "button";
  button.setAttribute("aria-expanded", "false");
  button.setAttribute("aria-label", `查看批次 ${b.msg_id} 的付款指令和文件`);
  button.addEventListener("click", () => toggle(b, tr, button));
  op.append(button);
  tr.append(
    id,
    el("td", nameOf("bank", b.bank)),
    el("td", dateTime(b.cutoff_at)),
    el("td", String(b.instruction_count), "num"),
    el("td", String(b.line_count), "num"),
    total,
    statesCell(b),
    state,
    op,
  );
  return tr;
}

export async function loadBatches() {
  const day = $("settle-date").value || today();
  open.clear();
  try {
    const out = await api("GET", `/api/v1/settlement/batches?date=${encodeURIComponent(day)}`);
    $("batches").replaceChildren(...out.batches.map(row));
    $("settle-empty").hidden = out.batches.length > 0;
    const sum = out.batches.reduce((s, b) => s + BigInt(b.total_fen), 0n);
    $("settle-count").textContent = out.batches.length
      ? `共 ${out.batches.length} 批，合计 ${formatFen(sum)}`
      : "";
    $("settle-error").textContent = "";
  } catch (err) {
    failed(err, "清分批次加载失败");
  }
}

/** Wire the section; ``authLost`` is called when the session has expired. */
export function initSettlement({ authLost }) {
  onAuthLost = authLost;
  $("settle-date").value = today();
  $("settle-date").addEventListener("change", loadBatches);
  $("settle-refresh").addEventListener("click", loadBatches);
  return loadBatches();
}

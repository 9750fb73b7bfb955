// 收款账户: where each beneficiary is paid, payouts on hold, and the account corrections that wait
// for a second person. One finance user asks (with the bank's letter as reason), another checks
// and approves; the server refuses the requester's own decision, and this page does not offer it.
import { api, messageOf } from "./api.js";
import { decisionDialog } from "./four-eyes.js";
import { nameOf } from "./naming.js";
import { $, el } from "./dom.js";
import { dateTime } from "./time.js";

const RELOAD_MS = 60000;
// the server's rules (clearing.service.beneficiary_accounts), checked first to answer at once
const BANK_CODE = /^[0-9]{12}$/;
const ACCOUNT_NO = /^[0-9A-Za-z-]{6,34}$/;
const FIELDS = ["account_no", "account_name", "bank_name", "bank_code", "reason"];
const DECISIONS = {
  approve: {
    title: "同意账户更正",
    confirm: "确认同意",
    className: "primary",
    label: "审批意见（选填）",
    done: (c) => `已同意 ${c.beneficiary_name} 的账户更正，新账户立即生效；如有暂停付款的款项，将在下一次截止时点付往新账户。`,
  },
  reject: {
    title: "驳回账户更正",
    confirm: "确认驳回",
    className: "danger",
    label: "驳回原因",
    done: (c) => `已驳回 ${c.beneficiary_name} 的账户更正申请，原账户不变。`,
  },
};

let me = null;
let canAct = false;
let onAuthLost = () => {};
let beneficiaries = [];
let changing = null; // the beneficiary whose correction is being asked for
let openDecision = null; // (change, action): the decision dialog, wired in initAccounts
let timer = null;

function flash(text) {
  $("acct-flash").textContent = text;
}

function failed(err, what) {
  if (err.status === 401) onAuthLost();
  $("acct-error").textContent = `${what}：${messageOf(err)}`;
}

function accountLines(a) {
  const box = el("div");
  box.append(
    el("div", a.account_no, "mono"),
    el("div", a.account_name, "small"),
    el("div", `${a.bank_name} · 联行号 ${a.bank_code || "未登记"}`, "muted small"),
  );
  return box;
}

function cell(node, className = "") {
  const td = el("td", "", className);
  td.append(node);
  return td;
}

function beneficiaryRow(b) {
  const tr = el("tr");
  const who = el("td");
  who.append(el("div", b.name));
  const account = cell(accountLines(b));
  const schedule = el("td", b.settle_mode === "realtime" ? nameOf("settle_mode", "realtime") : `每日 ${b.cutoff_local} 截止`);
  const state = el("td");
  if (!b.active) state.append(el("span", "已停用", "badge muted"));
  if (b.payout_hold) {
    state.append(el("span", "暂停付款", "badge hold"), el("div", b.payout_hold, "reason small"));
  }
  if (b.open_change) state.append(el("span", "账户更正待审批", "badge r-REQUESTED"));
  if (!state.childNodes.length) state.append(el("span", "正常", "badge ok"));
  const op = el("td", "", "c-op");
  if (canAct && !b.open_change) {
    const button = el("button", "申请更正", "small");
    button.type = "button";
    button.setAttribute("aria-label", `申请更正 ${b.name} 的收款账户`);
    button.addEventListener("click", () => openChange(b));
    op.append(button);
  }
  tr.append(who, account, schedule, state, op);
  return tr;
}

function changeRow(c) {
  const tr = el("tr");
  const first = el("td");
  first.append(el("div", `#${c.id}`, "mono"), el("div", dateTime(c.requested_at), "muted small"));
  const reason = el("td", c.reason, "reason");
  const op = el("td", "", "c-op");
  if (canAct && c.requested_by === me.username) {
    op.append(el("span", "待其他财务人员审批", "muted small"));
  } else if (canAct) {
    for (const [action, label, className] of [["approve", "同意", "primary"], ["reject", "驳回", "danger"]]) {
      const button = el("button", label, `small ${className}`);
      button.type = "button";
      button.setAttribute("aria-label", `${label} ${c.beneficiary_name} 的账户更正`);
      button.addEventListener("click", () => openDecision(c, action));
      op.append(button);
    }
  }
  tr.append(
    first,
    el("td", c.beneficiary_name),
    cell(accountLines(c.current)),
    cell(accountLines(c), "new-account"),
    reason,
    el("td", c.requested_by_name),
    op,
  );
  return tr;
}

export async function loadAccounts() {
  clearTimeout(timer);
  try {
    const [out, open] = await Promise.all([
      api("GET", "/api/v1/beneficiaries"),
      api("GET", "/api/v1/account-changes?state=REQUESTED"),
    ]);
    beneficiaries = out.beneficiaries;
    $("beneficiaries").replaceChildren(...beneficiaries.map(beneficiaryRow));
    $("changes").replaceChildren(...open.changes.map(changeRow));
    $("changes-empty").hidden = open.changes.length > 0;
    const held = beneficiaries.filter((b) => b.payout_hold).length;
    $("acct-count").textContent = `收款单位 ${beneficiaries.length} 个，暂停付款 ${held} 个，待审批更正 ${open.changes.length} 笔`;
    $("acct-error").textContent = "";
  } catch (err) {
    failed(err, "收款账户加载失败");
  } finally {
    timer = setTimeout(() => {
      if ($("change-dialog").open || $("acct-decide-dialog").open) timer = setTimeout(loadAccounts, RELOAD_MS);
      else loadAccounts();
    }, RELOAD_MS);
  }
}

// --- the request form ---------------------------------------------------------------------------

function openChange(b) {
  changing = b;
  $("c-beneficiary").textContent = `${b.name}（${b.code}）`;
  $("c-current").replaceChildren(accountLines(b));
  for (const name of FIELDS) {
    const input = $(`c-${name}`);
    input.value = "";
    input.removeAttribute("aria-invalid");
  }
  $("c-account_name").value = b.account_name; // the holder rarely changes with the account
  $("change-error").textContent = "";
  $("change-dialog").showModal();
  $("c-account_no").focus();
}

function invalid(name, text) {
  const input = $(`c-${name}`);
  input.setAttribute("aria-invalid", "true");
  input.focus();
  $("change-error").textContent = text;
}

async function submitChange(event) {
  event.preventDefault();
  if (!changing) return;
  const body = Object.fromEntries(FIELDS.map((name) => [name, $(`c-${name}`).value.trim()]));
  body.account_no = body.account_no.replace(/\s+/g, "");
  if (!ACCOUNT_NO.test(body.account_no)) return invalid("account_no", "银行账号应为6至34位数字或字母。");
  if (!body.account_name) return invalid("account_name", "请填写户名。");
  if (!body.bank_name) return invalid("bank_name", "请填写开户行名称。");
  if (!BANK_CODE.test(body.bank_code)) return invalid("bank_code", "开户行联行号应为12位数字。");
  if (body.reason.length < 2) return invalid("reason", "请填写更正原因，如银行来函编号。");
  const confirm = $("change-confirm");
  confirm.disabled = true;
  try {
    const made = await api("POST", `/api/v1/beneficiaries/${encodeURIComponent(changing.code)}/account-changes`, { body });
    $("change-dialog").close();
    flash(`已提交 ${made.beneficiary_name} 的账户更正申请（编号 ${made.id}），须由另一位财务人员审批后生效。`);
    await loadAccounts();
  } catch (err) {
    if (err.status === 401) onAuthLost();
    const field = err.problem && err.problem.field;
    if (FIELDS.includes(field)) invalid(field, messageOf(err));
    else $("change-error").textContent = messageOf(err);
  } finally {
    confirm.disabled = false;
  }
}

/** Wire the section for the signed-in user ``who`` (GET /api/v1/me). */
export function initAccounts(who, { authLost }) {
  me = who;
  onAuthLost = authLost;
  canAct = who.role === "finance" || who.role === "admin";
  $("acct-readonly").hidden = canAct;
  $("acct-refresh").addEventListener("click", () => {
    flash("");
    loadAccounts();
  });
  $("change-form").addEventListener("submit", submitChange);
  openDecision = decisionDialog({
    ids: {
      dialog: "acct-decide-dialog", form: "acct-decide-form", title: "acct-decide-title", noteLabel: "ad-note-label",
      note: "ad-note", confirm: "ad-confirm", error: "ad-error",
    },
    actions: DECISIONS,
    path: (change, action) => `/api/v1/account-changes/${change.id}/${action}`,
    fill: (change) => {
      $("ad-beneficiary").textContent = change.beneficiary_name;
      $("ad-old").replaceChildren(accountLines(change.current));
      $("ad-new").replaceChildren(accountLines(change));
      $("ad-reason").textContent = change.reason;
      $("ad-requester").textContent = change.requested_by_name;
    },
    rejectHint: "请填写驳回原因，以便申请人了解情况。",
    ownRequest: "您是该更正申请的申请人，不能审批自己的申请，请由另一位财务人员审批。",
    lateCode: "ACCOUNT_CHANGE_ALREADY_DECIDED",
    flash,
    decided: loadAccounts,
    reload: loadAccounts,
    authLost: () => onAuthLost(),
  });
  for (const name of FIELDS.map((n) => `c-${n}`)) {
    $(name).addEventListener("input", () => $(name).removeAttribute("aria-invalid"));
  }
  return loadAccounts();
}

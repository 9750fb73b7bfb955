// The 开具缴费单 form: payer, the case's references (amounts come from the authorities) or — for a
// supervisor only, with a reason — lines typed by hand with a live total in integer fen; and an
// idempotent submit.
import { api, messageOf } from "./api.js";
import { caseRefs, clearLookup, hasRefs, setupCaseLookup } from "./case-lookup.js";
import { $ } from "./dom.js";
import { formatFen, parseYuan } from "./money.js";

const MANUAL_ROLES = ["supervisor", "admin"];
let mode = "case";

const form = $("order-form");
const lines = $("lines");
const template = $("line-row");
const errorBox = $("form-error");
const submitButton = $("submit-order");

let feeItems = new Map(); // code → fee item
let maxLines = 20;
// the Idempotency-Key of a submission that has not yet succeeded, kept while its body is the same,
// so that a retry after a timeout cannot create the order twice
let pending = null;

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  // plain-HTTP pages on a LAN are not a "secure context" and lack randomUUID
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, "0")).join("");
}

function rows() {
  return [...lines.querySelectorAll("tr")];
}

function renumber() {
  const all = rows();
  all.forEach((row, i) => {
    row.querySelector(".c-no").textContent = String(i + 1);
    row.querySelector(".item").setAttribute("aria-label", `第${i + 1}项 收费项目`);
    row.querySelector(".amount").setAttribute("aria-label", `第${i + 1}项 金额（元）`);
    row.querySelector(".reference").setAttribute("aria-label", `第${i + 1}项 票号/缴款码`);
    row.querySelector(".remove").setAttribute("aria-label", `删除第${i + 1}项`);
    row.querySelector(".remove").disabled = all.length === 1;
  });
  $("add-line").disabled = all.length >= maxLines;
}

function addLine() {
  const row = template.content.firstElementChild.cloneNode(true);
  const select = row.querySelector(".item");
  for (const item of feeItems.values()) {
    const option = document.createElement("option");
    option.value = item.code;
    option.textContent = item.name_zh;
    select.append(option);
  }
  lines.append(row);
  renumber();
  return row;
}

function updateTotal() {
  let total = 0n;
  for (const row of rows()) {
    const input = row.querySelector(".amount");
    const fen = parseYuan(input.value);
    const filled = input.value.trim() !== "";
    input.setAttribute("aria-invalid", String(filled && fen === null));
    if (fen !== null) total += fen;
  }
  $("form-total").textContent = formatFen(total);
}

function invalid(field, message, problems) {
  field.setAttribute("aria-invalid", "true");
  problems.push({ field, message });
}

function clearMarks() {
  for (const f of form.querySelectorAll("[aria-invalid]")) f.removeAttribute("aria-invalid");
}

function report(problems) {
  errorBox.textContent = problems.map((p) => p.message).join("；") + "。";
  problems[0].field.focus();
}

/** The payer's name and ID checked as the server will, into `problems`. */
function payerOf(problems) {
  const payerName = form.payer_name.value.trim();
  const payerId = form.payer_id.value.replace(/\s+/g, "").toUpperCase();
  if (!payerName) invalid(form.payer_name, "请填写缴款人姓名", problems);
  if (!payerId) invalid(form.payer_id, "请填写证件号码", problems);
  else if (payerId.length !== 18) invalid(form.payer_id, "证件号码应为18位身份证号或统一社会信用代码", problems);
  return { payer_name: payerName, payer_id: payerId };
}

/** The payer for a lookup, or null after marking what is missing. */
function payerForLookup() {
  clearMarks();
  errorBox.textContent = "";
  const problems = [];
  const payer = payerOf(problems);
  if (problems.length) {
    report(problems);
    return null;
  }
  return payer;
}

function typedLines(body, problems) {
  body.lines = [];
  rows().forEach((row, i) => {
    const item = row.querySelector(".item");
    const amount = row.querySelector(".amount");
    const reference = row.querySelector(".reference").value.trim();
    const fen = parseYuan(amount.value);
    if (!item.value) invalid(item, `第${i + 1}项：请选择收费项目`, problems);
    if (!amount.value.trim()) invalid(amount, `第${i + 1}项：请填写金额`, problems);
    else if (fen === null) invalid(amount, `第${i + 1}项：金额格式不正确，应如 1234.50（最多两位小数）`, problems);
    else if (fen === 0n) invalid(amount, `第${i + 1}项：金额必须大于零`, problems);
    const line = { item_code: item.value, amount: amount.value.trim() };
    if (reference) line.reference = reference;
    body.lines.push(line);
  });
  const reason = form.manual_reason.value.trim();
  if (!reason) invalid(form.manual_reason, "手工录入金额须填写原因", problems);
  body.manual_reason = reason;
}

/** The request body, or null after marking what is missing or wrong. */
function collect(office, windowNo) {
  const problems = [];
  clearMarks();
  const caseNo = form.case_no.value.trim();
  if (!caseNo) invalid(form.case_no, "请填写业务受理号", problems);
  const body = { case_no: caseNo, office, window: windowNo, ...payerOf(problems) };
  if (mode === "manual") typedLines(body, problems);
  else {
    body.case = caseRefs();
    if (!hasRefs(body.case)) {
      invalid($("declaration-no"), "请至少填写一项凭证：税务申报号、非税缴款码、维修资金通知书号或登记事项", problems);
    }
  }
  if (problems.length) {
    report(problems);
    return null;
  }
  return body;
}

function setMode(next) {
  mode = next;
  $("mode-case").setAttribute("aria-pressed", String(mode === "case"));
  $("mode-manual").setAttribute("aria-pressed", String(mode === "manual"));
  $("case-part").hidden = mode !== "case";
  $("manual-part").hidden = mode !== "manual";
  errorBox.textContent = "";
}

function resetForm() {
  for (const input of [form.case_no, form.payer_name, form.payer_id, form.manual_reason]) input.value = "";
  clearLookup();
  for (const f of form.querySelectorAll("[aria-invalid]")) f.removeAttribute("aria-invalid");
  lines.replaceChildren();
  addLine();
  updateTotal();
  errorBox.textContent = "";
  pending = null;
}

/**
 * Wire the form. `context()` gives {office, windowNo} at submit time; `onCreated(order)` receives
 * the new order; `onUnauthorized()` is called when the session has ended.
 */
export function setupOrderForm({ items, lineLimit, role, context, onCreated, onUnauthorized }) {
  feeItems = new Map(items.map((i) => [i.code, i]));
  maxLines = lineLimit;
  resetForm();
  setupCaseLookup({ items, payer: payerForLookup, onUnauthorized });
  // typing amounts by hand is a supervisor's exception; clerks only see the references
  $("mode-switch").hidden = !MANUAL_ROLES.includes(role);
  $("mode-case").addEventListener("click", () => setMode("case"));
  $("mode-manual").addEventListener("click", () => setMode("manual"));
  setMode("case");

  $("add-line").addEventListener("click", () => addLine().querySelector(".item").focus());
  lines.addEventListener("click", (event) => {
    const button = event.target.closest(".remove");
    if (!button || rows().length === 1) return;
    const row = button.closest("tr");
    const next = row.nextElementSibling || row.previousElementSibling;
    row.remove();
    renumber();
    updateTotal();
    next.querySelector(".amount").focus();
  });
  lines.addEventListener("change", (event) => {
    if (!event.target.matches(".item")) return;
    const item = feeItems.get(event.target.value);
    const cell = event.target.closest("tr").querySelector(".beneficiary");
    cell.textContent = item ? item.beneficiary_name : "—";
  });
  lines.addEventListener("input", (event) => {
    if (event.target.matches(".amount")) updateTotal();
  });
  // a mark stays only until the clerk corrects the field; the live total re-marks bad amounts
  const corrected = (event) => {
    if (!event.target.matches(".amount")) event.target.removeAttribute("aria-invalid");
    // the summary goes once every marked field has been put right
    if (!form.querySelector('[aria-invalid="true"]')) errorBox.textContent = "";
  };
  form.addEventListener("input", corrected);
  form.addEventListener("change", corrected);
  $("reset-form").addEventListener("click", () => {
    resetForm();
    form.case_no.focus();
  });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    errorBox.textContent = "";
    const { office, windowNo } = context();
    const body = collect(office, windowNo);
    if (!body) return;
    const json = JSON.stringify(body);
    if (!pending || pending.json !== json) pending = { json, key: newKey() };
    submitButton.disabled = true;
    submitButton.textContent = "正在开具…";
    try {
      const order = await api("POST", "/api/v1/orders", {
        body,
        headers: { "Idempotency-Key": pending.key },
      });
      resetForm();
      form.case_no.focus();
      onCreated(order);
    } catch (err) {
      if (err.status === 401) onUnauthorized();
      errorBox.textContent = messageOf(err);
      if (err.problem && err.problem.code === "INVALID_PAYER_ID") {
        form.payer_id.setAttribute("aria-invalid", "true");
        form.payer_id.focus();
      }
      // a refusal's message already names each reference and the authority's reason
      const outage = err.problem && ["AUTHORITY_LOOKUP_FAILED", "AUTHORITY_TIMEOUT"].includes(err.problem.code);
      if (outage && Array.isArray(err.problem.failures)) {
        const names = err.problem.failures.map((f) => `${f.message_zh}${f.reference ? `（${f.reference}）` : ""}`);
        errorBox.textContent = `${messageOf(err)}：${names.join("；")}`;
      }
      const line = err.problem && err.problem.line;
      if (Number.isInteger(line) && rows()[line - 1]) {
        const field = err.problem.code === "UNKNOWN_FEE_ITEM" ? ".item" : ".amount";
        rows()[line - 1].querySelector(field).setAttribute("aria-invalid", "true");
      }
    } finally {
      submitButton.disabled = false;
      submitButton.textContent = "开具缴费单";
    }
  });
}

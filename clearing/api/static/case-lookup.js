// 按凭证查询: the references a case brings to the window, and what the authorities say it owes.
// Amounts are never typed here; a failed authority is named and can be asked again alone.
import { api, messageOf } from "./api.js";
import { nameOf } from "./naming.js";
import { $, el } from "./dom.js";
import { formatFen } from "./money.js";


let feeItems = new Map();
// items already answered, by authority: a retry of one authority replaces only its own part
let answered = new Map();

function field(id) {
  return $(id).value.trim();
}

/** The `case` object of the order request, from the reference fields. */
export function caseRefs() {
  const refs = {};
  const declaration = field("declaration-no");
  if (declaration) refs.declaration_no = declaration;
  const codes = field("payment-codes").split(/[\s,，、;；]+/).filter(Boolean);
  if (codes.length) refs.payment_codes = codes;
  const notice = field("fund-notice");
  if (notice) refs.fund_notice = notice;
  const unit = field("property-unit");
  if (unit) refs.property_unit = unit;
  const kind = $("matter-kind").value;
  if (kind) {
    const matter = { kind, extra_certificates: Number($("extra-certs").value || 0) };
    if ($("exemption").value) matter.exemption = $("exemption").value;
    refs.matters = [matter];
  }
  return refs;
}

/** Only the part of `refs` one authority answers, for asking it again alone. */
function partOf(refs, authority) {
  const part = {};
  if (authority === "tax" && refs.declaration_no) part.declaration_no = refs.declaration_no;
  if (authority === "fiscal" && refs.payment_codes) part.payment_codes = refs.payment_codes;
  if (authority === "fund") {
    if (refs.fund_notice) part.fund_notice = refs.fund_notice;
    if (refs.property_unit) part.property_unit = refs.property_unit;
  }
  return part;
}

export function hasRefs(refs) {
  return Boolean(refs.declaration_no || refs.payment_codes || refs.fund_notice || refs.property_unit || refs.matters);
}

function render() {
  const items = [...answered.values()].flat();
  const body = $("due-lines");
  body.replaceChildren();
  let total = 0n;
  items.forEach((item, i) => {
    const known = feeItems.get(item.item_code);
    const row = el("tr");
    row.append(
      el("td", String(i + 1), "c-no"),
      el("td", known ? known.name_zh : item.item_code),
      el("td", known ? known.beneficiary_name : "—"),
      el("td", item.reference || "—", "mono"),
      el("td", formatFen(BigInt(item.amount_fen)), "num"),
    );
    body.append(row);
    total += BigInt(item.amount_fen);
  });
  $("due-table").hidden = items.length === 0;
  $("due-total").textContent = formatFen(total);
}

function showFailures(failures, warnings, payer, refs, onUnauthorized) {
  const list = $("lookup-failures");
  list.replaceChildren();
  for (const f of failures) {
    const who = nameOf("authority", f.authority);
    const item = el("li");
    // message_zh already names the authority ("税务部门：…")
    const paidBy = f.order_no ? `，已由缴费单 ${f.order_no} 缴纳` : "";
    item.append(el("span", `${f.message_zh}${f.reference ? `（${f.reference}）` : ""}${paidBy}`));
    // the authority's own "no" is final: asking it again cannot help, so no button offers it
    if (f.retryable && f.authority in { tax: 1, fiscal: 1, fund: 1 }) {
      const retry = el("button", `重新查询${who}`, "small");
      retry.type = "button";
      retry.addEventListener("click", () => ask(payer, partOf(refs, f.authority), onUnauthorized, f.authority));
      item.append(retry);
    }
    list.append(item);
  }
  // references another order already holds: that order must be cancelled before a new one
  for (const w of warnings || []) list.append(el("li", w.message_zh, "warning"));
}

/** Ask the authorities (all of them, or `only` one) what the case owes, and show the answer. */
async function ask(payer, refs, onUnauthorized, only = null) {
  const button = $("lookup-case");
  button.disabled = true;
  button.textContent = "正在查询…";
  try {
    const found = await api("POST", "/api/v1/cases/lookup", { body: { ...payer, case: refs } });
    if (only) answered.set(only, []);
    else answered = new Map();
    for (const item of found.items) {
      const part = item.authority;
      if (!answered.has(part)) answered.set(part, []);
      answered.get(part).push(item);
    }
    render();
    showFailures(found.failures, found.warnings, payer, refs, onUnauthorized);
    return found.failures.length === 0;
  } catch (err) {
    if (err.status === 401) onUnauthorized();
    $("lookup-failures").replaceChildren(el("li", messageOf(err)));
    return false;
  } finally {
    button.disabled = false;
    button.textContent = "查询应缴金额";
  }
}

export function clearLookup() {
  answered = new Map();
  render();
  $("lookup-failures").replaceChildren();
  for (const id of ["declaration-no", "payment-codes", "fund-notice", "property-unit"]) $(id).value = "";
  $("matter-kind").value = "residential";
  $("extra-certs").value = "0";
  $("exemption").value = "";
}

/** Wire the lookup button; `payer()` gives {payer_name, payer_id} or null after marking the form. */
export function setupCaseLookup({ items, payer, onUnauthorized }) {
  feeItems = new Map(items.map((i) => [i.code, i]));
  $("lookup-case").addEventListener("click", () => {
    const who = payer();
    if (!who) return;
    const refs = caseRefs();
    if (!hasRefs(refs)) {
      $("lookup-failures").replaceChildren(el("li", "请至少填写一项凭证：税务申报号、非税缴款码、维修资金通知书号或登记事项。"));
      $("declaration-no").focus();
      return;
    }
    ask(who, refs, onUnauthorized);
  });
}

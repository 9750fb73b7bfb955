// 缴费通知书: issue a payment notice for the order shown (optionally sending its link by SMS) and
// open its PDF in a new tab. The tab is opened on the click itself (a popup opened after an
// awaited call would be blocked), then pointed at the PDF once the notice exists.
import { api, messageOf } from "./api.js";
import { $ } from "./dom.js";
import { dateTime } from "./time.js";

let current = () => null;
let onUnauthorized = () => {};

function newKey() {
  return crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random()}`.replace(".", "");
}

function smsLine(sms) {
  if (!sms) return "";
  if (sms.state === "SENT") return `短信已发送至 ${sms.phone_masked}。`;
  if (sms.state === "SENDING") return `短信正在发送至 ${sms.phone_masked}。`;
  return `短信${sms.state_zh}（${sms.phone_masked}）：${sms.message_zh || ""}`;
}

function showIssued(orderNo, notice, fresh) {
  const info = $("c-notice-info");
  info.dataset.orderNo = orderNo;
  info.hidden = false;
  info.className = notice.sms && notice.sms.state !== "SENT" ? "notice-info alert" : "notice-info";
  const what = fresh ? "缴费通知书已开具" : `已于 ${dateTime(notice.issued_at)} 开具缴费通知书`;
  info.textContent =
    `${what}，手机缴费链接有效至 ${dateTime(notice.link_expires_at)}（北京时间）。${smsLine(notice.sms)}`;
  const pdf = $("c-notice-pdf");
  pdf.href = notice.pdf_url;
  pdf.hidden = false;
  info.append(" ", pdf);
}

/** Whether the shown order may get a notice (only an open one), and what was issued for it. */
export async function renderNotice(order) {
  $("c-notice").hidden = !order || order.state !== "OPEN";
  const info = $("c-notice-info");
  if (order && info.dataset.orderNo === order.order_no) return;
  info.textContent = "";
  info.hidden = true;
  $("c-notice-pdf").hidden = true;
  info.dataset.orderNo = order ? order.order_no : "";
  if (!order || !["OPEN", "PAYING"].includes(order.state)) return;
  try {
    const found = await api("GET", `/api/v1/orders/${encodeURIComponent(order.order_no)}/notices`);
    const shown = current();
    if (found.notices.length && shown && shown.order_no === order.order_no) {
      showIssued(order.order_no, found.notices[0], false);
    }
  } catch (err) {
    if (err.status === 401) onUnauthorized();
    // a role that may not issue notices sees none: nothing to say
  }
}

async function issue(phone, key) {
  const order = current();
  const body = phone ? { phone } : {};
  return api("POST", `/api/v1/orders/${encodeURIComponent(order.order_no)}/notice`, {
    body,
    headers: { "Idempotency-Key": key },
  });
}

export function setupNotice({ currentOrder, unauthorized }) {
  current = currentOrder;
  onUnauthorized = unauthorized;
  const dialog = $("notice-dialog");
  const phone = $("notice-phone");
  const errorBox = $("notice-error");
  let key = null; // one request per dialog: a second click retries it, never sends twice
  $("c-notice").addEventListener("click", () => {
    phone.value = "";
    errorBox.textContent = "";
    key = newKey();
    dialog.showModal();
    phone.focus();
  });
  phone.addEventListener("input", () => { key = newKey(); });
  $("notice-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const order = current();
    if (!order) return;
    const tab = window.open("about:blank", "_blank");
    const button = $("notice-issue");
    button.disabled = true;
    try {
      const notice = await issue(phone.value.trim(), key);
      if (tab) tab.location.href = notice.pdf_url;
      showIssued(order.order_no, notice, true);
      dialog.close();
    } catch (err) {
      if (tab) tab.close();
      if (err.status === 401) onUnauthorized();
      errorBox.textContent = messageOf(err);
    } finally {
      button.disabled = false;
    }
  });
}

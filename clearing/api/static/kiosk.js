// The self-service kiosk (自助缴费终端). It holds no staff session: after enrolment, the server's
// HttpOnly cookie (sent only to /api/v1/kiosk) is its whole identity, and all it may reach is
// the order a citizen found on it. Everything reaches the page as textContent. The screen
// clears itself after IDLE_S seconds without a touch or key, and after each payment.
import { deviceCall } from "./device-call.js";
import { $, el } from "./dom.js";
import { formatFen } from "./money.js";
import { dateTime } from "./time.js";

const VIEWS = ["v-loading", "v-enrol", "v-home", "v-order", "v-receipt", "v-closed"];
const CLOSED_NOTE = {
  EXPIRED: "缴费单已超过有效期，请到窗口重新办理。",
  CANCELLED: "缴费单已撤销，请勿付款。",
  EXCEPTION: "支付状态异常，请到窗口咨询，款项如需退回将原路退回。",
  REFUNDING: "款项正在原路退回。",
  REFUNDED: "款项已原路退回。",
  SETTLED: "该缴费单已缴费。",
};
const CHANNEL_ZH = { wechatpay: "微信", alipay: "支付宝", unionpay: "云闪付" };
// a hall may shorten the idle time (and the browser tests do): ?idle=N, 3 to 60 seconds;
// never longer than the 60 s after which the next citizen must not see the one before
const asked = Number(new URLSearchParams(location.search).get("idle"));
const IDLE_S = Number.isInteger(asked) && asked >= 3 && asked <= 60 ? asked : 60;
const POLL_MS = 1500;

let current = null; // the view's id
let order = null; // the order on screen, as /api/v1/kiosk/current says
let idleTimer = null;
let pollTimer = null;
let busy = false;

async function call(method, path, body) {
  const answer = await deviceCall(method, path, body);
  if (answer.status === 401 && path !== "/api/v1/kiosk/enrol") {
    // revoked: nothing of the order stays on screen
    stopPolling();
    order = null;
    show("v-enrol");
  }
  return answer;
}

function show(id) {
  for (const view of VIEWS) $(view).hidden = view !== id;
  current = id;
  armIdle();
  if (id === "v-home") {
    for (const input of ["case-no", "id-tail", "scan-input"]) $(input).value = "";
    $("scan-input").focus();
  }
}

function zh(data, fallback) {
  return (data && data.detail_zh) || fallback;
}

// --- idle ----------------------------------------------------------------------------------

function armIdle() {
  clearTimeout(idleTimer);
  if (current === "v-loading" || current === "v-enrol") return;
  idleTimer = setTimeout(onIdle, IDLE_S * 1000);
}

async function onIdle() {
  if (current === "v-home") {
    $("home-error").textContent = "";
    show("v-home");
    return;
  }
  await home(current === "v-receipt" ? "paid" : "idle");
}

async function home(why) {
  stopPolling();
  order = null;
  $("pay-error").textContent = "";
  $("home-error").textContent = "";
  await call("DELETE", `/api/v1/kiosk/current?why=${why}`);
  if (current !== "v-enrol") show("v-home");
}

for (const type of ["pointerdown", "keydown", "input"]) {
  document.addEventListener(type, armIdle, { capture: true, passive: true });
}

// --- enrolment -----------------------------------------------------------------------------

async function enrol(code) {
  const { status, data } = await call("POST", "/api/v1/kiosk/enrol", { code });
  if (status !== 201) {
    $("enrol-error").textContent = zh(data, "启用失败，请稍后重试");
    return false;
  }
  $("enrol-error").textContent = "";
  await start();
  return true;
}

$("enrol-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const code = $("enrol-code").value.trim();
  if (code) enrol(code);
});

// --- finding the order ---------------------------------------------------------------------

async function lookup(body) {
  if (busy) return;
  busy = true;
  const { status, data } = await call("POST", "/api/v1/kiosk/lookup", body);
  busy = false;
  if (status === 200) {
    render(data);
    return;
  }
  if (status !== 401) {
    $("home-error").textContent = zh(data, "查询失败，请稍后重试");
    $("scan-input").value = "";
  }
}

$("lookup-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const caseNo = $("case-no").value.trim();
  const tail = $("id-tail").value.trim().toUpperCase();
  if (!caseNo || tail.length !== 6) {
    $("home-error").textContent = "请输入业务受理号和证件号码后6位";
    return;
  }
  lookup({ case_no: caseNo, id_tail: tail });
});

$("scan-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const scanned = $("scan-input").value.trim();
  if (scanned) lookup({ notice: scanned });
});

// --- the order and paying it ---------------------------------------------------------------

function fillOrder(o) {
  $("o-case").textContent = o.case_no;
  $("o-payer").textContent = o.payer_masked;
  $("o-id").textContent = o.payer_id_masked;
  const rows = o.lines.map((ln) => {
    const tr = el("tr");
    tr.append(el("td", ln.item_name), el("td", ln.beneficiary_name), el("td", formatFen(ln.amount_fen), "num"));
    return tr;
  });
  $("o-lines").replaceChildren(...rows);
  $("o-total").textContent = formatFen(o.total_fen);
  $("o-capital").textContent = o.total_capital;
}

function payPanel(which) {
  $("pay-choose").hidden = which !== "choose";
  $("pay-qr").hidden = which !== "qr";
  $("pay-code-form").hidden = which !== "code";
}

function render(view) {
  if (view.phase === "idle" || !view.order) {
    if (current !== "v-home") show("v-home");
    order = null;
    stopPolling();
    return;
  }
  const fresh = !order || order.order_no !== view.order.order_no;
  order = view.order;
  if (view.phase === "paid") {
    showReceipt();
    return;
  }
  if (view.phase === "closed") {
    stopPolling();
    $("closed-note").textContent = CLOSED_NOTE[order.state] || `缴费单状态：${order.state_zh}`;
    show("v-closed");
    return;
  }
  fillOrder(order);
  if (fresh) {
    payPanel("choose");
    $("pay-status").textContent = "";
    $("pay-error").textContent = "";
    show("v-order");
  }
}

async function pay(body) {
  if (busy) return;
  busy = true;
  $("pay-error").textContent = "";
  $("pay-status").textContent = "正在发起支付…";
  const { status, data } = await call("POST", "/api/v1/kiosk/current/payments", body);
  busy = false;
  if (status !== 201) {
    $("pay-status").textContent = "";
    if (status !== 401) $("pay-error").textContent = zh(data, "发起支付失败，请稍后重试");
    return;
  }
  if (data.state === "SUCCEEDED") {
    await refresh();
    return;
  }
  if (body.method === "qr") {
    $("qr-title").textContent = `请用手机${CHANNEL_ZH[data.provider] || ""}扫码支付`;
    $("qr-img").src = `${data.qr_svg_url}?t=${encodeURIComponent(data.out_trade_no)}`;
    payPanel("qr");
    $("pay-status").textContent = "等待支付…";
  } else {
    $("pay-status").textContent = data.message_zh || "付款确认中，请稍候";
  }
  startPolling();
}

for (const button of document.querySelectorAll("[data-channel]")) {
  button.addEventListener("click", () => pay({ method: "qr", channel: button.dataset.channel }));
}
$("pay-code").addEventListener("click", () => {
  payPanel("code");
  $("code-input").value = "";
  $("code-input").focus();
});
$("pay-code-form").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const code = $("code-input").value.replace(/\s/g, "");
  if (!/^\d{16,24}$/.test(code)) {
    $("pay-error").textContent = "未识别的付款码，请刷新手机付款码后重新扫描";
    $("code-input").value = "";
    return;
  }
  pay({ method: "code", auth_code: code });
});
$("order-back").addEventListener("click", () => home("citizen"));
$("closed-back").addEventListener("click", () => home("citizen"));

// --- live status -----------------------------------------------------------------------------

async function refresh() {
  const { status, data } = await call("GET", "/api/v1/kiosk/current");
  if (status === 200) render(data);
}

function startPolling() {
  stopPolling();
  pollTimer = setInterval(refresh, POLL_MS);
}

function stopPolling() {
  clearInterval(pollTimer);
  pollTimer = null;
}

// --- the receipt -----------------------------------------------------------------------------

async function showReceipt() {
  stopPolling();
  if (current === "v-receipt") return;
  const { status, data } = await call("GET", "/api/v1/kiosk/current/receipt");
  if (status !== 200) {
    if (status !== 401) $("pay-error").textContent = zh(data, "凭证暂不能生成，请到窗口打印");
    return;
  }
  $("r-no").textContent = data.receipt_no;
  $("r-case").textContent = order.case_no;
  $("r-payer").textContent = order.payer_masked;
  $("r-id").textContent = order.payer_id_masked;
  $("r-with").textContent = order.paid_with_zh || "";
  $("r-at").textContent = order.paid_at ? dateTime(order.paid_at) : "";
  const rows = order.lines.map((ln) => {
    const tr = el("tr");
    const what = el("td");
    what.append(el("span", ln.item_name), el("small", ln.beneficiary_name));
    tr.append(what, el("td", formatFen(ln.amount_fen), "num"));
    return tr;
  });
  $("r-lines").replaceChildren(...rows);
  $("r-total").textContent = formatFen(data.paid_fen);
  $("r-capital").textContent = order.total_capital;
  $("r-qr").src = `${data.qr_svg_url}?n=${encodeURIComponent(data.receipt_no)}`;
  show("v-receipt");
}

$("print").addEventListener("click", () => window.print());
$("receipt-done").addEventListener("click", () => home("paid"));

// --- start -----------------------------------------------------------------------------------

async function start() {
  $("idle-s").textContent = String(IDLE_S);
  const { status, data } = await call("GET", "/api/v1/kiosk/me");
  if (status !== 200 || !data.enrolled) {
    $("k-name").textContent = "";
    show("v-enrol");
    return;
  }
  $("k-name").textContent = data.name;
  const now = await call("GET", "/api/v1/kiosk/current");
  if (now.status === 200 && now.data.order) {
    render(now.data);
    if (now.data.phase === "pay") startPolling();
  } else {
    show("v-home");
  }
}

// an administrator's enrolment link (/kiosk#enrol=CODE): spent once, then gone from the address
const fromLink = /^#enrol=([A-Za-z0-9-]{12,20})$/.exec(location.hash);
if (fromLink) {
  history.replaceState(null, "", location.pathname + location.search);
  call("GET", "/api/v1/kiosk/me").then(({ data }) => (data && data.enrolled ? start() : enrol(fromLink[1])));
} else {
  start();
}

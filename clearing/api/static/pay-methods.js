// 收款方式: every way the citizen can pay an open order, and what the window shows while waiting.
//
//   扫付款码  the clerk's USB scanner types the citizen's payment code and Enter (the server finds
//            the channel from the code's prefix); the input has focus whenever an order waits
//   扫码支付  a QR code of the chosen channel for the citizen to scan
//   刷卡      a sale sent to the card terminal at the window
//
// Which channels and terminals exist comes from /window/config.json.
import { api, messageOf } from "./api.js";
import { nameOf as channelName } from "./naming.js";
import { $, el } from "./dom.js";
import { dateTime } from "./time.js";

const QR_HINT = {
  wechatpay: "请缴款人使用微信“扫一扫”扫码支付",
  alipay: "请缴款人使用支付宝“扫一扫”扫码支付",
  unionpay: "请缴款人使用云闪付或银行App“扫一扫”扫码支付",
};
// where each channel's QR payload carries the token its simulator's citizen page takes
const QR_TOKEN = {
  wechatpay: /^weixin:\/\/wxpay\/bizpayurl\?(?:.*&)?pr=([^&#]+)/,
  alipay: /^https:\/\/qr\.alipay\.com\/([^/?#]+)/,
  unionpay: /^https:\/\/qr\.95516\.com\/00010000\/([^/?#]+)/,
};
// test payment codes that look like each wallet's (clearing.domain.codes): prefix, length
const TEST_CODE = { wechatpay: ["13", 18], alipay: ["28", 18], unionpay: ["62", 19] };
const CODE_WAIT = "等待缴款人在手机上确认付款";
const CARD_WAIT = "请缴款人在终端上插卡或刷卡并输入密码";
const AUTH_CODE = /^\d{16,24}$/;
const TERMINAL_KEY = "tj_terminal";

let channels = new Map(); // provider → {provider, name_zh, methods, sim_url}
let order = null;
let busy = false;
let sticky = false; // a message about money received that must stay after the order moves on
// what the clerk started last for the shown order, so that the screen shows that attempt
// (the order's attempts say neither the terminal nor the server's message)
let chosen = { orderNo: null, outTradeNo: null, terminalId: null, message: null };
// the failed attempt whose reason was shown last: shown once, not again on every refresh
let failureShown = null;
let hooks = { onStarted: async () => {}, onUnauthorized: () => {} };

function showError(err, { keep = false } = {}) {
  if (err && err.status === 401) hooks.onUnauthorized();
  $("pay-error").textContent = err ? (typeof err === "string" ? err : messageOf(err)) : "";
  sticky = Boolean(err) && keep;
}

/** A channel's name (display.js), also for channels no longer configured. */
export function nameOf(provider) {
  return channelName("channel", provider);
}

function simUrl(provider) {
  const channel = channels.get(provider);
  return channel && channel.sim_url ? channel.sim_url : null;
}

function qrSimLink(attempt) {
  const base = simUrl(attempt.provider);
  const pattern = QR_TOKEN[attempt.provider];
  const match = base && pattern ? pattern.exec(attempt.code_url || "") : null;
  if (!match) return null;
  try {
    return `${base}/sim/scan/${encodeURIComponent(decodeURIComponent(match[1]))}`;
  } catch {
    return null;
  }
}

function cardSimLink(provider, terminalId) {
  const base = simUrl(provider);
  return base && terminalId ? `${base}/sim/terminals/${encodeURIComponent(terminalId)}` : null;
}

function randomDigits(n) {
  return Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => String(b % 10)).join("");
}

function testCode(provider) {
  const [prefix, length] = TEST_CODE[provider];
  return prefix + randomDigits(length - prefix.length);
}

function channelButton(text, onClick) {
  const button = el("button", text);
  button.type = "button";
  button.addEventListener("click", onClick);
  return button;
}

/** The attempt to show: the one the clerk started last, else the newest one still open. */
function shownAttempt(o) {
  const open = o.attempts.filter((a) => a.state === "OPEN");
  if (chosen.orderNo === o.order_no) {
    const mine = open.find((a) => a.out_trade_no === chosen.outTradeNo);
    if (mine) return mine;
  }
  return open.length ? open[open.length - 1] : null;
}

function renderQr(o, attempt) {
  const provider = attempt.provider;
  // one URL per attempt: a new attempt's code must not come from the browser's cache
  const query = new URLSearchParams({ provider, attempt: attempt.out_trade_no });
  const src = `/api/v1/orders/${encodeURIComponent(o.order_no)}/qr.svg?${query}`;
  const img = $("c-qr-img");
  if (img.getAttribute("src") !== src) img.src = src;
  img.alt = `${nameOf(provider)}收款二维码`;
  $("c-qr-hint").textContent = QR_HINT[provider] || `请缴款人使用${nameOf(provider)}扫码支付`;
  $("c-expires").textContent = dateTime(attempt.expires_at || o.expires_at);
  const sim = qrSimLink(attempt);
  $("c-sim").hidden = !sim;
  if (sim) $("c-sim").href = sim;
}

function renderWait(attempt) {
  const mine = chosen.orderNo === order.order_no && chosen.outTradeNo === attempt.out_trade_no;
  const card = attempt.provider === "pos";
  let text = card ? CARD_WAIT : CODE_WAIT;
  if (mine && chosen.message && !card) text = chosen.message;
  $("c-wait-text").textContent = text;
  const where = card && mine && chosen.terminalId ? ` · 终端 ${chosen.terminalId}` : "";
  $("c-wait-note").textContent = card
    ? `${nameOf(attempt.provider)}${where} · 交易号 ${attempt.out_trade_no}`
    : `${nameOf(attempt.provider)}付款码 · 交易号 ${attempt.out_trade_no}`;
  const sim = card && mine ? cardSimLink(attempt.provider, chosen.terminalId) : null;
  $("c-wait-sim").hidden = !sim;
  if (sim) $("c-wait-sim").href = sim;
}

/** A card sale on the terminal: until it ends, no other way of paying may start. */
function cardInProgress(o) {
  return o.attempts.some((a) => a.state === "OPEN" && a.method === "card");
}

/** The newest attempt failed after it started (a declined card): say why, once. */
function showFailure(o) {
  const last = o.attempts[o.attempts.length - 1];
  if (!last || last.state !== "FAILED" || !last.failure_zh || failureShown === last.out_trade_no) return;
  failureShown = last.out_trade_no;
  const what = last.method === "card" ? "刷卡" : `${nameOf(last.provider)}付款`;
  showError(`${what}未成功：${last.failure_zh}。请缴款人重试，或改用其他方式付款。`);
}

/** Show the order's payment controls and whatever it is waiting for; hide them once it is not payable. */
export function renderPay(o) {
  order = o;
  const payable = o.state === "OPEN" || o.state === "PAYING";
  $("pay").hidden = !payable;
  if (!payable) {
    $("c-qr").hidden = true;
    $("c-wait").hidden = true;
    if (!sticky) showError(null);
    return;
  }
  const attempt = shownAttempt(o);
  const qr = Boolean(attempt && attempt.code_url);
  $("c-qr").hidden = !qr;
  $("c-wait").hidden = !attempt || qr;
  if (qr) renderQr(o, attempt);
  else if (attempt) renderWait(attempt);
  showFailure(o);
  const locked = busy || cardInProgress(o);
  for (const button of $("qr-buttons").querySelectorAll("button")) {
    button.setAttribute("aria-pressed", String(qr && button.dataset.provider === attempt.provider));
    button.disabled = locked;
  }
  for (const button of $("code-test-buttons").querySelectorAll("button")) button.disabled = locked;
  $("code-submit").disabled = locked;
  $("card-start").disabled = locked;
}

export function focusCode() {
  if (!$("pay").hidden) $("auth-code").focus();
}

async function start(body, remember = {}) {
  if (!order || busy) return null;
  if (cardInProgress(order)) {
    // the scanner's Enter submits the form even while its button is disabled
    showError("正在刷卡，请等待终端返回结果后再换其他方式。");
    return null;
  }
  const orderNo = order.order_no;
  busy = true;
  renderPay(order);
  showError(null);
  try {
    const started = await api("POST", `/api/v1/orders/${encodeURIComponent(orderNo)}/payments`, { body });
    chosen = { orderNo, outTradeNo: started.out_trade_no, terminalId: null, message: null, ...remember };
    if (started.message_zh) chosen.message = started.message_zh;
    return started;
  } catch (err) {
    if (err.status === 401) hooks.onUnauthorized();
    else if (order && order.order_no === orderNo) showError(err);
    return null;
  } finally {
    busy = false;
    // the order is fetched again whatever happened: an attempt may have opened or failed
    if (order && order.order_no === orderNo) await hooks.onStarted(orderNo);
    else if (order) renderPay(order); // the clerk moved on meanwhile: enable its controls
  }
}

async function payByCode(event) {
  event.preventDefault();
  const input = $("auth-code");
  // a payment code is a bearer credential for a minute: it leaves the field at once
  const code = input.value.replace(/\s+/g, "");
  input.value = "";
  if (!AUTH_CODE.test(code)) {
    showError(code ? "付款码应为16至24位数字，请让缴款人刷新付款码后重新扫描。" : "请扫描缴款人的付款码。");
    input.focus();
    return;
  }
  const button = $("code-submit");
  button.textContent = "正在收款…";
  const started = await start({ method: "code", auth_code: code });
  button.textContent = "收款";
  if (started && started.state === "SUSPENSE") {
    showError("款项已收到，但缴费单状态已变化，未能入账；款项将自动原路退回缴款人。", { keep: true });
  }
  if (!started || started.state === "OPEN") input.focus();
}

async function openQr(provider) {
  await start({ method: "qr", channel: provider });
  // the citizen may still hold out a payment code instead: the scanner stays ready
  focusCode();
}

async function startCard() {
  const terminalId = $("terminal").value;
  if (!terminalId) {
    showError("请选择刷卡终端。");
    return;
  }
  localStorage.setItem(TERMINAL_KEY, terminalId);
  await start({ method: "card", channel: "pos", terminal_id: terminalId }, { terminalId });
  focusCode();
}

export function setupPayMethods({ config, windowTerminal, onStarted, onUnauthorized }) {
  hooks = { onStarted, onUnauthorized };
  channels = new Map((config.channels || []).map((c) => [c.provider, c]));
  const list = [...channels.values()];

  const qrChannels = list.filter((c) => c.methods.includes("qr"));
  $("qr-row").hidden = qrChannels.length === 0;
  $("qr-buttons").replaceChildren(
    ...qrChannels.map((c) => {
      const button = channelButton(c.name_zh, () => openQr(c.provider));
      button.dataset.provider = c.provider;
      button.setAttribute("aria-pressed", "false");
      return button;
    }),
  );

  const wallets = list.filter((c) => c.methods.includes("code"));
  $("code-form").hidden = wallets.length === 0;
  $("code-form").addEventListener("submit", payByCode);
  $("auth-code").addEventListener("input", () => showError(null));
  // demo only: codes for the wallets whose simulator runs here
  const testable = wallets.filter((c) => c.sim_url && TEST_CODE[c.provider]);
  $("code-test").hidden = testable.length === 0;
  $("code-test-buttons").replaceChildren(
    ...testable.map((c) =>
      channelButton(channelName("channel", c.provider), () => {
        $("auth-code").value = testCode(c.provider);
        showError(null);
        $("auth-code").focus();
      }),
    ),
  );
  for (const button of $("code-test-buttons").querySelectorAll("button")) button.className = "small";

  const takesCards = list.some((c) => c.methods.includes("card"));
  const terminals = config.terminals || [];
  $("card-row").hidden = !takesCards || terminals.length === 0;
  $("card-none").hidden = !takesCards || terminals.length > 0;
  const select = $("terminal");
  select.replaceChildren(...terminals.map((t) => {
    const option = el("option", `终端 ${t}`);
    option.value = t;
    return option;
  }));
  const remembered = localStorage.getItem(TERMINAL_KEY);
  if (remembered && terminals.includes(remembered)) select.value = remembered;
  // the terminal that stands at this clerk's window (系统管理 says which) comes first
  if (windowTerminal && terminals.includes(windowTerminal)) select.value = windowTerminal;
  $("card-start").addEventListener("click", startCard);
}

/** A different order is shown: forget the previous one's messages. */
export function resetPay() {
  showError(null);
  $("auth-code").value = "";
}

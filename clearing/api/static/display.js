// The citizen's screen (客显屏). It holds no staff session: after pairing, the server's
// HttpOnly cookie (sent only to /api/v1/display) is its whole identity, and all it may read is
// what its own window has on display. Everything reaches the page as textContent.
import { deviceCall } from "./device-call.js";
import { $, clock, el } from "./dom.js";

const GRADES = [
  ["very_satisfied", "非常满意"],
  ["satisfied", "满意"],
  ["basically_satisfied", "基本满意"],
  ["dissatisfied", "不满意"],
  ["very_dissatisfied", "非常不满意"],
];
const BAD = new Set(["dissatisfied", "very_dissatisfied"]);
const VIEWS = ["v-loading", "v-pair", "v-idle", "v-order", "v-done", "v-closed"];
const CLOSED_NOTE = {
  EXPIRED: "缴费单已超过有效期，如需缴费请咨询窗口工作人员。",
  CANCELLED: "缴费单已撤销，请勿再付款。",
  EXCEPTION: "支付状态异常，窗口工作人员将为您处理，款项如需退回将原路退回。",
  REFUNDING: "款项正在原路退回。",
  REFUNDED: "款项已原路退回。",
};
// a lost event must not leave a citizen looking at a stale screen
const REFRESH_MS = 5000;

let state = null;
let source = null;
let retry = null;
let idleTimer = null;
let loadSeq = 0;
let chosen = null;

function show(id) {
  for (const view of VIEWS) $(view).hidden = view !== id;
}

function live(on) {
  $("d-live").textContent = on ? "实时" : "正在重新连接…";
  $("d-live").className = `d-live ${on ? "on" : "off"}`;
}

function stopEvents() {
  if (source) source.close();
  source = null;
  clearTimeout(retry);
}

function watch() {
  if (source) return;
  source = new EventSource("/api/v1/display/events");
  source.onopen = () => {
    live(true);
    load(); // whatever changed while the stream was away
  };
  source.onmessage = () => load();
  source.onerror = () => {
    // reconnected by us, not by the browser: after an unpairing the stream ends, and a retry
    // of our own asks first whether this screen is still paired (no refused request)
    live(false);
    stopEvents();
    retry = setTimeout(load, 1500);
  };
}

function renderLines(order) {
  $("o-lines").replaceChildren(
    ...order.lines.map((line) => {
      const tr = el("tr");
      tr.append(el("td", line.item_name), el("td", line.beneficiary_name), el("td", line.amount_display.replace("¥", ""), "num"));
      return tr;
    }),
  );
}

function renderOrder(order) {
  $("o-payer").textContent = order.payer_masked;
  $("o-no").textContent = order.order_no;
  renderLines(order);
  $("o-total").textContent = order.total_display;
  $("o-capital").textContent = order.total_capital;
  const qr = order.qr;
  $("o-qr").hidden = !qr;
  $("o-wait").hidden = Boolean(qr);
  if (qr) {
    // a new QR (another attempt) has another expiry: the image is fetched again
    const src = `${qr.svg_url}?until=${encodeURIComponent(qr.expires_at)}`;
    if ($("o-qr-img").getAttribute("src") !== src) $("o-qr-img").src = src;
    $("o-qr-channel").textContent = qr.channel_zh;
    $("o-qr-exp").textContent = clock(qr.expires_at);
  } else {
    $("o-qr-img").removeAttribute("src");
    $("o-state").textContent = order.state === "PAYING" ? "正在付款…" : "请核对金额";
    $("o-note").textContent = "请按窗口工作人员的指引付款";
  }
}

function setupGrades() {
  $("r-grades").replaceChildren(
    ...GRADES.map(([code, name]) => {
      const b = el("button", name, BAD.has(code) ? "bad" : "");
      b.type = "button";
      b.dataset.grade = code;
      b.setAttribute("role", "radio");
      b.setAttribute("aria-checked", "false");
      b.addEventListener("click", () => choose(code));
      return b;
    }),
  );
  $("r-submit").addEventListener("click", submitRating);
}

function choose(code) {
  chosen = code;
  for (const b of $("r-grades").children) b.setAttribute("aria-checked", String(b.dataset.grade === code));
  $("r-reason-box").hidden = !BAD.has(code);
  $("r-submit").disabled = false;
  $("r-error").textContent = "";
}

function resetRating() {
  chosen = null;
  for (const b of $("r-grades").children) b.setAttribute("aria-checked", "false");
  $("r-reason").value = "";
  $("r-reason-box").hidden = true;
  $("r-submit").disabled = true;
  $("r-error").textContent = "";
}

async function submitRating() {
  if (!state || !state.order || !chosen) return;
  const body = { order_no: state.order.order_no, grade: chosen };
  const reason = $("r-reason").value.trim();
  if (BAD.has(chosen) && reason) body.reason = reason;
  $("r-submit").disabled = true;
  const { status, data } = await deviceCall("POST", "/api/v1/display/ratings", body);
  if (status === 201 || status === 409) {
    await load();
    return;
  }
  $("r-submit").disabled = false;
  $("r-error").textContent = (data && data.detail_zh) || "评价提交失败，请稍后重试。";
  if (status === 401) load();
}

function renderDone(view) {
  const order = view.order;
  $("r-total").textContent = order.total_display;
  $("r-channel").textContent = order.paid_with_zh ? `（${order.paid_with_zh}）` : "";
  const thanks = view.phase === "thanks";
  $("r-form").hidden = thanks;
  $("r-thanks").hidden = !thanks;
  if (thanks) $("r-given").textContent = `您的评价：${order.rating.grade_zh}`;
}

function render(view) {
  const before = state && state.order ? `${state.order.order_no}:${state.phase}` : "";
  state = view;
  $("d-window").textContent = `${view.window} 号窗口`;
  const now = view.order ? `${view.order.order_no}:${view.phase}` : "";
  if (now !== before && view.phase === "rate") resetRating();
  // thanks, an unrated payment, a closed order: the server says when the screen goes idle
  clearTimeout(idleTimer);
  if (view.until) idleTimer = setTimeout(load, Math.max(0, new Date(view.until) - Date.now()) + 300);
  if (view.phase === "idle") {
    show("v-idle");
  } else if (view.phase === "pay") {
    renderOrder(view.order);
    show("v-order");
  } else if (view.phase === "rate" || view.phase === "thanks") {
    renderDone(view);
    show("v-done");
  } else {
    $("closed-title").textContent = `缴费单${view.order.state_zh}`;
    $("closed-note").textContent = CLOSED_NOTE[view.order.state] || "如有疑问请咨询窗口工作人员。";
    show("v-closed");
  }
}

// asked first whether this screen is paired: an unpaired one is never refused (browsers log
// every refused request as an error, and a waiting screen is no error)
async function fetchState() {
  const who = await deviceCall("GET", "/api/v1/display/me");
  if (who.status !== 200) return who;
  if (!who.data.paired) return { status: 401, data: null };
  return deviceCall("GET", "/api/v1/display/state");
}

async function load() {
  const seq = ++loadSeq;
  const { status, data } = await fetchState();
  if (seq !== loadSeq) return;
  if (status === 200) {
    render(data);
    watch();
  } else if (status === 401) {
    state = null;
    stopEvents();
    $("d-window").textContent = "";
    $("d-live").textContent = "";
    show("v-pair");
    $("pair-code").focus();
  } else {
    live(false);
    clearTimeout(retry);
    retry = setTimeout(load, 3000);
  }
}

function setupPairing() {
  $("pair-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const code = $("pair-code").value.trim();
    if (!/^[0-9]{6}$/.test(code)) {
      $("pair-code").setAttribute("aria-invalid", "true");
      $("pair-error").textContent = "请输入窗口工作人员提供的6位数字配对码。";
      return;
    }
    $("pair-submit").disabled = true;
    const { status, data } = await deviceCall("POST", "/api/v1/display/pair", { code });
    $("pair-submit").disabled = false;
    if (status === 201) {
      $("pair-code").value = "";
      $("pair-code").removeAttribute("aria-invalid");
      $("pair-error").textContent = "";
      await load();
      return;
    }
    $("pair-code").setAttribute("aria-invalid", "true");
    $("pair-error").textContent = (data && data.detail_zh) || "配对失败，请稍后重试。";
  });
}

setupGrades();
setupPairing();
setInterval(() => {
  if (state && state.phase === "pay") load();
}, REFRESH_MS);
load();

// The citizen's phone (/m/{token}): the order, the ways to pay that fit this browser, the order
// followed until it is paid, then the receipt. Talks only to /m/{token}/…: nobody signs in.
import { formatFen } from "./money.js";

const token = decodeURIComponent(location.pathname.split("/")[2] || "");
const base = `/m/${encodeURIComponent(token)}`;
const $ = (id) => document.getElementById(id);
let busy = false;
let timer = null;

function text(id, value) { $(id).textContent = value ?? ""; }

function showError(message) { text("m-error", message); }

async function readOrder() {
  const r = await fetch(`${base}/order.json`, { headers: { Accept: "application/json" }, cache: "no-store" });
  const body = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(body.detail_zh || "缴费链接无效");
  return body;
}

function renderLines(lines) {
  const list = $("m-lines");
  list.replaceChildren(...lines.map((line) => {
    const li = document.createElement("li");
    const left = document.createElement("span");
    left.textContent = line.item_name;
    const who = document.createElement("span");
    who.className = "m-who";
    who.textContent = line.beneficiary_name;
    left.append(who);
    const amount = document.createElement("span");
    amount.className = "num";
    amount.textContent = formatFen(line.amount_fen);
    li.append(left, amount);
    return li;
  }));
}

function submitPage(page) {
  // where the channel's cashier is: a plain navigation, or its signed form posted as given
  if ((page.method || "GET").toUpperCase() === "GET") {
    location.href = page.url;
    return;
  }
  const form = document.createElement("form");
  form.method = "post";
  form.action = page.url;
  for (const [name, value] of Object.entries(page.fields || {})) {
    const input = document.createElement("input");
    input.type = "hidden";
    input.name = name;
    input.value = value;
    form.append(input);
  }
  document.body.append(form);
  form.submit();
}

async function startPayment(way) {
  if (busy) return;
  busy = true;
  showError("");
  for (const b of $("m-ways").querySelectorAll("button")) b.disabled = true;
  try {
    const r = await fetch(`${base}/payments`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify({ channel: way.channel, method: way.method }),
    });
    const body = await r.json().catch(() => ({}));
    if (!r.ok) throw new Error(body.detail_zh || "暂时无法发起支付，请稍后重试");
    if (way.method === "jsapi") {
      await bridgePay(body.bridge);
    } else {
      submitPage(body.page);
      return; // the browser leaves for the channel's cashier
    }
  } catch (err) {
    showError(err.message);
  }
  busy = false;
  for (const b of $("m-ways").querySelectorAll("button")) b.disabled = false;
}

function bridgeReady() {
  if (window.WeixinJSBridge) return Promise.resolve(window.WeixinJSBridge);
  return new Promise((resolve) => {
    document.addEventListener("WeixinJSBridgeReady", () => resolve(window.WeixinJSBridge),
      { once: true });
  });
}

async function bridgePay(params) {
  const bridge = await bridgeReady();
  const res = await new Promise((resolve) => {
    bridge.invoke("getBrandWCPayRequest", params, resolve);
  });
  // "ok" is not proof of payment: the order itself says so once the notification arrives
  if (res && res.err_msg === "get_brand_wcpay_request:ok") {
    text("m-state", "支付已提交，正在确认…");
    follow(true);
  } else if (res && res.err_msg === "get_brand_wcpay_request:cancel") {
    showError("您已取消支付");
  } else {
    showError("支付未成功，请稍后重试");
  }
}

function renderWays(order) {
  const box = $("m-ways");
  box.replaceChildren();
  if (!order.payable) return;
  if (order.authorize_url) {
    // inside WeChat without the payer's openid yet: the silent authorization first, once a
    // minute at most, so that a browser refusing our cookie does not bounce back and forth
    const key = `tj-wx-auth:${token}`;
    const last = Number(sessionStorage.getItem(key) || 0);
    if (Date.now() - last > 60_000) {
      sessionStorage.setItem(key, String(Date.now()));
      location.replace(order.authorize_url);
    } else {
      showError("微信授权未成功，请关闭本页面后重新打开缴费链接。");
    }
    return;
  }
  if (!order.ways.length) {
    text("m-state", "当前浏览器暂无可用的支付方式，请在微信或手机浏览器中打开本链接。");
    return;
  }
  for (const way of order.ways) {
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.channel = way.channel;
    b.textContent = way.name_zh;
    b.addEventListener("click", () => startPayment(way));
    box.append(b);
  }
}

function render(order, first) {
  $("m-loading").hidden = true;
  $("m-order").hidden = false;
  text("m-case", order.case_no);
  text("m-no", order.order_no);
  text("m-office", order.office_name);
  text("m-payer-id", order.payer_id_masked);
  text("m-expires", `${order.expires_bj}（北京时间）`);
  text("m-total", formatFen(order.total_fen));
  text("m-capital", order.total_capital);
  renderLines(order.lines);
  const state = $("m-state");
  state.className = "m-state";
  if (order.paid) {
    state.textContent = "已缴费";
    state.classList.add("ok");
  } else if (order.payable) {
    state.textContent = order.state === "PAYING" ? "待支付（支付确认中）" : "待支付";
  } else {
    state.textContent = `${order.state_zh}，不能缴费`;
    state.classList.add("warn");
  }
  if (first || !order.payable) renderWays(order);
  if (order.receipt) {
    $("m-receipt").hidden = false;
    text("m-receipt-no", order.receipt.receipt_no);
    $("m-pdf").href = order.receipt.pdf_url;
    $("m-verify").href = order.receipt.verify_url;
  }
}

function follow(fast) {
  clearTimeout(timer);
  timer = setTimeout(async () => {
    try {
      const order = await readOrder();
      render(order, false);
      if (order.paid || (!order.payable && order.state !== "PAYING")) return;
    } catch (err) {
      showError(err.message);
    }
    follow(false);
  }, fast ? 500 : 2000);
}

async function main() {
  try {
    const order = await readOrder();
    render(order, true);
    if (!order.paid) follow(false);
  } catch (err) {
    $("m-loading").textContent = err.message;
  }
}

main();

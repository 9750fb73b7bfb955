// The window screen: who is signed in, which window this is, and the parts wired together.
import { api, clearSession, messageOf, sessionToken } from "./api.js";
import { followOrder, setupDisplayLink } from "./display-link.js";
import { $ } from "./dom.js";
import { watchWindow } from "./events.js";
import { markSelected, reloadList, setupOrderList } from "./order-list.js";
import { setupOrderForm } from "./order-form.js";
import {
  applyEvent, currentOrderNo, isWaiting, resync, setupOrderPanel, showNewOrder, showOrder,
} from "./order-panel.js";

// Events are announced after commit; one lost to a crash must not leave the clerk waiting, so a
// waiting order is also re-read now and then.
const WAITING_REFRESH_MS = 5000;
setInterval(() => {
  if (isWaiting()) resync();
}, WAITING_REFRESH_MS);

const WINDOW_KEY = "tj_window";
const OFFICE_KEY = "tj_office";
const CODE = /^[A-Za-z0-9_-]{1,16}$/;

let office = "";
let windowNo = localStorage.getItem(WINDOW_KEY) || "W01";
let stopEvents = () => {};

function signOut() {
  clearSession();
  location.replace("/login");
}

function pageError(text) {
  $("page-error").textContent = text;
}

function connect() {
  stopEvents();
  if (!office) return;
  followOrder(currentOrderNo()); // this window's screen shows what this window shows
  stopEvents = watchWindow({
    office,
    windowNo,
    onEvent(event) {
      applyEvent(event);
      reloadList();
    },
    onResync() {
      resync();
      reloadList(0);
    },
    onStatus(on) {
      $("live").textContent = on ? "实时连接" : "正在重新连接…";
      $("live").classList.toggle("on", on);
    },
    async onRefused() {
      try {
        await api("GET", "/api/v1/me");
      } catch (err) {
        if (err.status === 401) signOut();
      }
    },
  });
}

function setupPlace(me) {
  const windowInput = $("window-no");
  windowInput.value = windowNo;
  windowInput.addEventListener("change", () => {
    const value = windowInput.value.trim();
    if (!CODE.test(value)) {
      windowInput.setAttribute("aria-invalid", "true");
      pageError("窗口号只能由字母、数字、“-”或“_”组成，最多16位。");
      windowInput.focus();
      return;
    }
    windowInput.removeAttribute("aria-invalid");
    pageError("");
    followOrder(null); // the screen of the window left behind shows nothing of this order
    windowNo = value;
    localStorage.setItem(WINDOW_KEY, windowNo);
    connect();
    reloadList(0);
  });
  if (me.office) {
    office = me.office;
    $("office-name").textContent = office;
    return;
  }
  // staff without an office of their own (administrators) say which hall they stand in
  const officeInput = $("office-input");
  $("office-name").hidden = true;
  officeInput.hidden = false;
  officeInput.value = office = localStorage.getItem(OFFICE_KEY) || "";
  officeInput.addEventListener("change", () => {
    followOrder(null);
    office = officeInput.value.trim();
    localStorage.setItem(OFFICE_KEY, office);
    connect();
    reloadList(0);
  });
}

async function main() {
  if (!sessionToken()) {
    signOut();
    return;
  }
  let me, catalogue, config;
  try {
    [me, catalogue, config] = await Promise.all([
      api("GET", "/api/v1/me"),
      api("GET", "/api/v1/fee-items"),
      api("GET", "/window/config.json"),
    ]);
  } catch (err) {
    if (err.status === 401) signOut();
    else pageError(`页面加载失败：${messageOf(err)}`);
    return;
  }
  $("who").textContent = `${me.display_name}（${me.username}）`;
  $("logout").addEventListener("click", async () => {
    try {
      await followOrder(null);
      await api("DELETE", "/api/v1/sessions");
    } finally {
      signOut();
    }
  });
  setupPlace(me);

  // administrators and auditors also read the refund approval page
  $("to-finance").hidden = !["admin", "auditor"].includes(me.role);
  setupOrderPanel({
    config,
    me,
    onChanged: () => reloadList(0),
    onUnauthorized: signOut,
    onShown: followOrder,
  });
  setupDisplayLink({
    context: () => ({ office, windowNo }),
    onUnauthorized: signOut,
    role: me.role,
  });
  const pick = (orderNo) => {
    markSelected(orderNo);
    showOrder(orderNo);
  };
  setupOrderForm({
    items: catalogue.items,
    lineLimit: config.max_lines,
    role: me.role,
    context: () => ({ office, windowNo }),
    onCreated(order) {
      reloadList(0);
      markSelected(order.order_no);
      showNewOrder(order);
    },
    onUnauthorized: signOut,
  });
  setupOrderList({
    context: () => ({ office, windowNo }),
    onPick: pick,
    selected: currentOrderNo,
    onError(err, text) {
      if (err && err.status === 401) signOut();
      else pageError(err ? `今日缴费单加载失败：${text}` : "");
    },
  });
  connect();
  $("case-no").focus();
}

main();

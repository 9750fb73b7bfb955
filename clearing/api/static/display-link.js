// The clerk's side of the citizen's screen (客显屏): a pairing code for this window's screen,
// unpairing it, and telling the server which order the screen should show (the one open here).
import { api, messageOf } from "./api.js";
import { $, clock } from "./dom.js";

// who works a window (clearing.service.display.STAFF_ROLES); others read the window screen only
const STAFF_ROLES = new Set(["clerk", "supervisor", "admin"]);

let enabled = false;
let context = () => ({ office: "", windowNo: "" });
let onUnauthorized = () => {};
let sent = null; // "office|window|order" last told to the server: tell each change once
let wanted = null;
let sending = false;
let countdown = null;

function officeQuery(office) {
  return office ? `?office=${encodeURIComponent(office)}` : "";
}

/** The order shown in 当前缴费单 (null: none): the window's screen follows it. */
export async function followOrder(orderNo) {
  const { office, windowNo } = context();
  if (!enabled || !office || !windowNo) return;
  wanted = { office, windowNo, orderNo: orderNo || null };
  if (sending) return; // the loop below sends the newest wish when the one in flight is done
  sending = true;
  try {
    while (wanted) {
      const w = wanted;
      wanted = null;
      const key = `${w.office}|${w.windowNo}|${w.orderNo}`;
      if (key === sent) continue;
      try {
        await api("PUT", "/api/v1/display/current", {
          body: { office: w.office, window: w.windowNo, order_no: w.orderNo },
        });
        sent = key;
      } catch (err) {
        if (err.status === 401) onUnauthorized();
        // the screen is a courtesy to the citizen: a failure here never stops the clerk
      }
    }
  } finally {
    sending = false;
  }
}

function showStatus(view) {
  $("display-status").textContent = view.paired
    ? `本窗口（${view.window}）已配对客显屏，配对时间 ${clock(view.paired_at)}。`
    : `本窗口（${view.window}）尚未配对客显屏。`;
  $("display-unpair").hidden = !view.paired;
}

async function refreshStatus() {
  const { office, windowNo } = context();
  try {
    showStatus(
      await api("GET", `/api/v1/display/windows/${encodeURIComponent(windowNo)}${officeQuery(office)}`),
    );
  } catch (err) {
    if (err.status === 401) onUnauthorized();
    $("display-error").textContent = messageOf(err);
  }
}

async function newCode() {
  const { office, windowNo } = context();
  $("display-error").textContent = "";
  try {
    const out = await api("POST", "/api/v1/display/pairing-codes", {
      body: { office, window: windowNo },
    });
    $("display-code").textContent = out.code;
    $("display-code-box").hidden = false;
    const until = new Date(out.expires_at);
    $("display-expiry").textContent = `有效期至 ${clock(out.expires_at)}，仅可使用一次`;
    clearInterval(countdown);
    countdown = setInterval(() => {
      if (Date.now() < until) {
        refreshStatus();
        return;
      }
      clearInterval(countdown);
      $("display-code-box").hidden = true;
      $("display-error").textContent = "配对码已过期，请重新获取。";
    }, 3000);
  } catch (err) {
    if (err.status === 401) onUnauthorized();
    $("display-error").textContent = messageOf(err);
  }
}

async function unpair() {
  const { office, windowNo } = context();
  try {
    showStatus(
      await api(
        "DELETE",
        `/api/v1/display/windows/${encodeURIComponent(windowNo)}/device${officeQuery(office)}`,
      ),
    );
  } catch (err) {
    if (err.status === 401) onUnauthorized();
    $("display-error").textContent = messageOf(err);
  }
}

export function setupDisplayLink(options) {
  context = options.context;
  onUnauthorized = options.onUnauthorized;
  enabled = STAFF_ROLES.has(options.role);
  $("display-open").hidden = !enabled;
  if (!enabled) return;
  const dialog = $("display-dialog");
  $("display-open").addEventListener("click", () => {
    $("display-error").textContent = "";
    $("display-code-box").hidden = true;
    $("display-status").textContent = "";
    dialog.showModal();
    refreshStatus();
  });
  $("display-new-code").addEventListener("click", newCode);
  $("display-unpair").addEventListener("click", unpair);
  $("display-close").addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => clearInterval(countdown));
}

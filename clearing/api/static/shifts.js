// 日结交班: the clerk's open shift and its close (with the printable 日结单), the day's closed
// shifts, and for a supervisor the office's 轧账 against the ledger (a difference shown in red).
import "./staff-parts.js"; // first: it makes the parts the others look up
import { api, clearSession, messageOf, sessionToken, wireLogout } from "./api.js";
import { $, el } from "./dom.js";
import { formatFen } from "./money.js";
import { nameOf } from "./naming.js";
// every time in Beijing time, by the one helper (time.js)
import { dateTime as beijing, today as beijingToday } from "./time.js";

const WINDOW_KEY = "tj_window";
const CODE = /^[A-Za-z0-9_-]{1,16}$/;
let me = null;

function signOut() {
  clearSession();
  location.replace("/login?next=/shifts");
}

function fail(where, err) {
  if (err.status === 401) return signOut();
  $(where).textContent = messageOf(err);
}


function totalBox(label, count, fen) {
  const box = el("div");
  box.append(el("span", label), el("b", `${count} 笔`), el("em", formatFen(fen)));
  return box;
}

// each read of the current shift is numbered: an answer for a window typed over since (the
// page's first read, say, arriving after the one for the window the clerk entered) is dropped
let currentSeq = 0;

async function loadCurrent() {
  $("current-error").textContent = "";
  const windowNo = $("window-no").value.trim();
  if (!CODE.test(windowNo)) {
    $("current-error").textContent = "请填写窗口号（字母、数字、“-”或“_”，最多16位）。";
    return;
  }
  const seq = ++currentSeq;
  $("close-shift").disabled = true;
  try {
    const s = await api("GET", `/api/v1/shifts/current?window=${encodeURIComponent(windowNo)}`);
    if (seq !== currentSeq) return;
    $("current-since").textContent = s.opened_at
      ? `接班时间 ${beijing(s.opened_at)}（上次交班后的第一笔业务）`
      : "本班次尚无业务。";
    $("current-totals").replaceChildren(
      totalBox("开具缴费单", s.orders_count, s.orders_fen),
      totalBox("收款", s.received_count, s.received_fen),
      totalBox("撤销", s.cancelled_count, s.cancelled_fen),
      totalBox("退款申请", s.refunds_count, s.refunds_fen),
    );
    const rows = $("current-channels");
    rows.replaceChildren();
    for (const c of s.by_channel) {
      const tr = el("tr");
      tr.append(el("td", c.channel ? nameOf("channel", c.channel) : "其他渠道"), el("td", String(c.count), "num"),
        el("td", formatFen(c.amount_fen), "num"));
      rows.append(tr);
    }
    $("close-shift").disabled = !s.opened_at;
  } catch (err) {
    fail("current-error", err);
  }
}

async function closeShift() {
  const windowNo = $("window-no").value.trim();
  $("confirm-close").hidden = true;
  $("current-error").textContent = "";
  try {
    const s = await api("POST", "/api/v1/shifts/close", { body: { window: windowNo } });
    $("flash").textContent =
      `已交班：收款 ${s.received_count} 笔，合计 ${formatFen(s.received_fen)}。请打印日结单签字。`;
    const link = $("print-last");
    link.href = `/shifts/${s.id}/print`;
    link.hidden = false;
    await Promise.all([loadCurrent(), loadList()]);
  } catch (err) {
    fail("current-error", err);
  }
}

async function loadList() {
  $("list-error").textContent = "";
  const day = $("list-date").value || beijingToday();
  const office = me.office ? "" : $("day-office").value.trim();
  if (!me.office && !office) {
    $("list-error").textContent = "请先在右上方填写大厅代码。";
    return;
  }
  try {
    const scope = office ? `&office=${encodeURIComponent(office)}` : "";
    const body = await api("GET", `/api/v1/shifts?date=${day}${scope}`);
    const rows = $("shift-rows");
    rows.replaceChildren();
    for (const s of body.shifts) {
      const tr = el("tr");
      const print = el("td");
      const a = el("a", "打印", "button small");
      a.href = `/shifts/${s.id}/print`;
      a.target = "_blank";
      a.rel = "noopener";
      print.append(a);
      tr.append(el("td", s.clerk), el("td", s.window), el("td", beijing(s.opened_at)),
        el("td", beijing(s.closed_at)), el("td", String(s.orders_count), "num"),
        el("td", String(s.received_count), "num"), el("td", formatFen(s.received_fen), "num"),
        el("td", String(s.cancelled_count), "num"), el("td", String(s.refunds_count), "num"), print);
      rows.append(tr);
    }
    $("no-shifts").hidden = body.shifts.length > 0;
    $("list-count").textContent = `共 ${body.shifts.length} 个班次`;
  } catch (err) {
    fail("list-error", err);
  }
}

function dayOffice() {
  return me.office || $("day-office").value.trim();
}

async function loadDay() {
  $("day-error").textContent = "";
  const office = dayOffice();
  if (!office) return;
  const day = $("list-date").value || beijingToday();
  try {
    const d = await api("GET", `/api/v1/office-days/${encodeURIComponent(office)}/${day}`);
    const rows = $("day-channels");
    rows.replaceChildren();
    for (const c of d.by_channel) {
      const tr = el("tr");
      const diff = el("td", formatFen(c.difference_fen), `num ${c.difference_fen ? "diff-bad" : ""}`);
      tr.append(el("td", c.channel_zh), el("td", `${c.shifts_count} 笔 ${formatFen(c.shifts_fen)}`, "num"),
        el("td", `${c.ledger_count} 笔 ${formatFen(c.ledger_fen)}`, "num"), diff);
      rows.append(tr);
    }
    const total = $("day-total");
    total.replaceChildren(
      el("span", `交班合计 ${formatFen(d.shifts_fen)}，账务记录 ${formatFen(d.ledger_fen)}，`),
      d.difference_fen
        ? el("span", `差额 ${formatFen(d.difference_fen)}（轧账不平）`, "diff-bad")
        : el("span", "差额 ¥0.00（账实相符）", "diff-ok"),
    );
    $("day-open").hidden = d.open_shifts.length === 0;
    $("day-open-list").replaceChildren(...d.open_shifts.map((s) =>
      el("li", `窗口 ${s.window}（${s.clerk}）：收款 ${s.received_count} 笔 ${formatFen(s.received_fen)}`)));
    const closed = d.closed;
    $("print-day").hidden = !closed;
    $("print-day").href = `/office-days/${encodeURIComponent(office)}/${day}/print`;
    $("day-status-text").textContent = closed
      ? `${day} 已由 ${closed.closed_by} 于 ${beijing(closed.closed_at)} 轧账` +
        (closed.difference_fen ? `，差额 ${formatFen(closed.difference_fen)}，说明：${closed.note}` : "，账实相符")
      : `${day} 尚未轧账；已交班 ${d.closed_shifts} 个班次。`;
    $("day-actions").hidden = Boolean(closed);
  } catch (err) {
    fail("day-error", err);
  }
}

async function closeDay() {
  const office = dayOffice();
  const day = $("list-date").value || beijingToday();
  $("day-error").textContent = "";
  try {
    await api("POST", `/api/v1/office-days/${encodeURIComponent(office)}/${day}/close`, {
      body: { note: $("day-note").value.trim() || null },
    });
    await loadDay();
  } catch (err) {
    fail("day-error", err);
  }
}

async function start() {
  if (!sessionToken()) return signOut();
  try {
    me = await api("GET", "/api/v1/me");
  } catch (err) {
    return fail("page-error", err);
  }
  $("who").textContent = `${me.display_name}${me.office ? `（${me.office}）` : ""}`;
  wireLogout($("logout"), signOut);
  $("window-no").value = me.window || localStorage.getItem(WINDOW_KEY) || "";
  // a clerk's window is the one assigned in 系统管理; the server refuses any other
  $("window-no").readOnly = me.role === "clerk";
  $("window-no").addEventListener("change", () => {
    const value = $("window-no").value.trim();
    if (CODE.test(value)) localStorage.setItem(WINDOW_KEY, value);
    loadCurrent();
  });
  $("list-date").value = beijingToday();
  $("list-date").addEventListener("change", () => {
    loadList();
    if (!$("day-card").hidden) loadDay();
  });
  $("current-refresh").addEventListener("click", loadCurrent);
  $("close-shift").addEventListener("click", () => {
    $("confirm-close").hidden = false;
    $("confirm-yes").focus();
  });
  $("confirm-yes").addEventListener("click", closeShift);
  $("confirm-no").addEventListener("click", () => {
    $("confirm-close").hidden = true;
  });
  const staff = me.role === "clerk" || me.role === "supervisor";
  $("current-card").hidden = !staff;
  if (me.role === "supervisor" || me.role === "admin") {
    $("day-card").hidden = false;
    $("day-office-wrap").hidden = Boolean(me.office);
    $("day-refresh").addEventListener("click", loadDay);
    $("day-office").addEventListener("change", () => {
      loadDay();
      loadList();
    });
    $("close-day").addEventListener("click", closeDay);
    loadDay();
  }
  if (staff) loadCurrent();
  loadList();
}

start();

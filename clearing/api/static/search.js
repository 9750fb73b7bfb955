// 缴费单查询: find orders of this office by any key, read one order's history, 补打 its receipt.
// The ID number is sent in a POST body only (never in an address) and is not kept on the page.
import "./staff-parts.js"; // first: it makes the parts the others look up
import { api, clearSession, messageOf, sessionToken, wireLogout } from "./api.js";
import { $, el } from "./dom.js";
import { capitalFen, formatFen } from "./money.js";
// every time in Beijing time, by the one helper (time.js)
import { dateTime as beijing } from "./time.js";


const PAGE_SIZE = 20;
// receipts exist for paid orders only (clearing.api.receipt.PAID_STATES)
const REPRINTABLE = new Set(["CLEARED", "SETTLED"]);
const READ_ALL = new Set(["finance", "admin", "auditor"]);

let query = {};
let page = 1;
let selected = "";

function signOut() {
  clearSession();
  location.replace("/login?next=/search");
}

function formQuery() {
  const q = {};
  for (const node of $("search-form").elements) {
    if (!node.name) continue;
    const value = node.value.trim();
    if (value) q[node.name] = value;
  }
  return q;
}

function showResults(body) {
  const rows = $("results");
  rows.replaceChildren();
  for (const o of body.orders) {
    const tr = el("tr");
    tr.dataset.orderNo = o.order_no;
    tr.setAttribute("aria-selected", String(o.order_no === selected));
    tr.tabIndex = 0;
    const state = el("span", o.state_zh, `badge s-${o.state}`);
    const stateCell = el("td");
    stateCell.append(state);
    tr.append(
      el("td", o.order_no, "mono"),
      el("td", o.case_no, "mono"),
      el("td", o.window),
      el("td", o.payer_id_masked, "mono"),
      el("td", formatFen(o.total_fen), "num"),
      el("td", o.channel_zh || "—"),
      stateCell,
      el("td", beijing(o.created_at)),
    );
    tr.addEventListener("click", () => openOrder(o.order_no));
    tr.addEventListener("keydown", (e) => {
      if (e.key === "Enter") openOrder(o.order_no);
    });
    rows.append(tr);
  }
  $("no-results").hidden = body.orders.length > 0;
  $("result-count").textContent = `共 ${body.total} 张`;
  $("pager").hidden = body.pages <= 1;
  $("page-info").textContent = `第 ${body.page} / ${Math.max(body.pages, 1)} 页`;
  $("prev").disabled = body.page <= 1;
  $("next").disabled = body.page >= body.pages;
}

async function runSearch() {
  $("search-error").textContent = "";
  try {
    const body = await api("POST", "/api/v1/orders/search", {
      body: { ...query, page, page_size: PAGE_SIZE },
    });
    showResults(body);
  } catch (err) {
    if (err.status === 401) return signOut();
    $("search-error").textContent = messageOf(err);
  }
}

function showDetail(data) {
  const o = data.order;
  $("d-order").textContent = o.order_no;
  $("d-case").textContent = o.case_no;
  $("d-payer").textContent = `${o.payer_name}（${o.payer_id_masked}）`;
  $("d-place").textContent = `${o.office} / ${o.window}`;
  $("d-total").textContent = formatFen(o.total_fen);
  $("d-capital").textContent = capitalFen(o.total_fen);
  $("d-state").textContent = o.state_zh;
  $("d-state").className = `badge s-${o.state}`;
  const list = $("timeline");
  list.replaceChildren();
  for (const e of data.events) {
    const li = el("li");
    li.dataset.kind = e.kind;
    li.append(
      el("div", `${beijing(e.at)} · ${e.who}`, "t-when"),
      el("div", e.title, "t-title"),
    );
    if (e.detail) li.append(el("div", e.detail, "t-detail"));
    list.append(li);
  }
  // 补打: the receipt page for now; the audited, counted reprint call is wired in there
  const reprint = $("reprint");
  reprint.href = data.receipt_url;
  reprint.hidden = !REPRINTABLE.has(o.state);
  $("detail").hidden = false;
  $("detail-empty").hidden = true;
}

async function openOrder(orderNo) {
  selected = orderNo;
  for (const tr of $("results").children) {
    tr.setAttribute("aria-selected", String(tr.dataset.orderNo === orderNo));
  }
  $("detail-error").textContent = "";
  history.replaceState(null, "", `#order=${encodeURIComponent(orderNo)}`);
  try {
    showDetail(await api("GET", `/api/v1/orders/${encodeURIComponent(orderNo)}/timeline`));
  } catch (err) {
    if (err.status === 401) return signOut();
    $("detail").hidden = true;
    $("reprint").hidden = true;
    $("detail-empty").hidden = true;
    $("detail-error").textContent = err.status === 404
      ? `未找到缴费单 ${orderNo}：缴费单不存在，或不属于本大厅。`
      : messageOf(err);
  }
}

async function start() {
  if (!sessionToken()) return signOut();
  let me;
  try {
    me = await api("GET", "/api/v1/me");
  } catch (err) {
    if (err.status === 401) return signOut();
    $("page-error").textContent = messageOf(err);
    return;
  }
  $("who").textContent = `${me.display_name}${me.office ? `（${me.office}）` : ""}`;
  $("office-field").hidden = !READ_ALL.has(me.role);
  $("to-window").hidden = me.role === "finance" || me.role === "auditor";
  $("to-shifts").hidden = !["clerk", "supervisor", "admin"].includes(me.role);
  wireLogout($("logout"), signOut);
  $("search-form").addEventListener("submit", (e) => {
    e.preventDefault();
    query = formQuery();
    page = 1;
    runSearch();
  });
  $("search-form").addEventListener("reset", () => {
    $("search-error").textContent = "";
  });
  $("prev").addEventListener("click", () => {
    page -= 1;
    runSearch();
  });
  $("next").addEventListener("click", () => {
    page += 1;
    runSearch();
  });
  const linked = new URLSearchParams(location.hash.slice(1)).get("order");
  if (linked) {
    $("q-order").value = linked;
    query = { order_no: linked };
    await runSearch();
    await openOrder(linked);
  } else {
    runSearch();
  }
}

start();

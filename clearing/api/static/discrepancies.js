// 对账差异: what the nightly reconciliation could not match, and what finance staff do about it.
// This module is the list (filters, counts per type and state, pages); a row opens its detail,
// where people act on it (discrepancy-detail.js). Auditors only read.
import { api } from "./api.js";
import { button, detailPanel, failed, flash, initDetail, money } from "./discrepancy-detail.js";
import { entries, nameOf, sourceName } from "./naming.js";
import { $, el } from "./dom.js";
import { addDays, today } from "./time.js";

const PAGE_SIZE = 50;

let page = 1;
let shown = null; // id of the discrepancy whose detail is open

function query() {
  const q = new URLSearchParams();
  for (const [name, id] of [["date_from", "recon-from"], ["date_to", "recon-to"], ["type", "recon-type"], ["state", "recon-state"]]) {
    if ($(id).value) q.set(name, $(id).value);
  }
  return q;
}

// --- the list ------------------------------------------------------------------------------

function row(d) {
  const tr = el("tr");
  tr.dataset.discrepancyId = String(d.id);
  const refs = el("td");
  refs.append(el("div", d.reference, "mono small"));
  if (d.our_ref) refs.append(el("div", `我方 ${d.our_ref}`, "muted small mono"));
  const state = el("td");
  state.append(el("span", nameOf("discrepancy_state", d.state), `badge d-${d.state}`));
  if (d.pending_adjustments) state.append(el("div", "调整待审批", "muted small"));
  const op = el("td", "", "c-op");
  const open = button(shown === d.id ? "收起" : "查看", "", `查看差异 ${d.id} 的详情`, () => toggle(d, tr, open));
  open.setAttribute("aria-expanded", String(shown === d.id));
  op.append(open);
  tr.append(
    el("td", d.business_date),
    el("td", nameOf("discrepancy_type", d.type)),
    el("td", sourceName(d.source)),
    refs,
    el("td", money(d.amount_fen), "num"),
    el("td", money(d.their_amount_fen), "num"),
    el("td", money(d.difference_fen), "num figure"),
    state,
    el("td", d.assigned_to_name || "—"),
    op,
  );
  return tr;
}

function renderCounts(out) {
  const box = $("recon-states");
  box.replaceChildren();
  for (const [state, label] of entries("discrepancy_state")) {
    box.append(el("span", `${label} ${out.counts.by_state[state] || 0}`, `badge d-${state}`));
  }
  const chosen = $("recon-type").value;
  $("recon-type").replaceChildren(new Option("全部类型", ""), ...entries("discrepancy_type").map(
    ([type, label]) => new Option(`${label}（${out.counts.by_type[type] || 0}）`, type),
  ));
  $("recon-type").value = chosen;
}

export async function loadDiscrepancies() {
  const q = query();
  $("recon-export").href = `/api/v1/discrepancies.csv?${q}`;
  q.set("page", String(page));
  q.set("page_size", String(PAGE_SIZE));
  try {
    const out = await api("GET", `/api/v1/discrepancies?${q}`);
    const rows = out.items.map(row);
    $("discrepancies").replaceChildren(...rows);
    renderCounts(out);
    const pages = Math.max(1, Math.ceil(out.total / PAGE_SIZE));
    $("recon-empty").hidden = out.total > 0;
    $("recon-count").textContent = `共 ${out.total} 笔`;
    $("recon-page").textContent = `第 ${page} / ${pages} 页`;
    $("recon-prev").disabled = page <= 1;
    $("recon-next").disabled = page >= pages;
    $("recon-error").textContent = "";
    const i = out.items.findIndex((d) => d.id === shown);
    if (i >= 0) await showDetail(out.items[i].id, rows[i]);
    else shown = null;
  } catch (err) {
    failed(err, "对账差异加载失败");
  }
}

// --- a row's detail ------------------------------------------------------------------------

async function toggle(d, tr, open) {
  // one detail at a time: the actions below it then always belong to the row above it
  const closing = shown === d.id;
  for (const other of $("discrepancies").querySelectorAll(".detail-row")) other.remove();
  for (const b of $("discrepancies").querySelectorAll("button[aria-expanded=true]")) {
    b.textContent = "查看";
    b.setAttribute("aria-expanded", "false");
  }
  shown = null;
  if (closing) return;
  shown = d.id;
  open.textContent = "收起";
  open.setAttribute("aria-expanded", "true");
  await showDetail(d.id, tr);
}

async function showDetail(id, tr) {
  try {
    const box = await detailPanel(id);
    const detailRow = el("tr", "", "detail-row");
    detailRow.dataset.detailOf = String(id);
    const td = el("td");
    td.colSpan = 10;
    td.append(box);
    detailRow.append(td);
    const next = tr.nextElementSibling;
    if (next && next.dataset.detailOf === String(id)) next.replaceWith(detailRow);
    else tr.after(detailRow);
  } catch (err) {
    failed(err, `差异 ${id} 加载失败`);
  }
}

/** Wire the section for the signed-in user ``who`` (GET /api/v1/me). */
export function initDiscrepancies(who, { authLost }) {
  const canAct = who.role === "finance" || who.role === "admin";
  initDetail(who, { canAct, reload: loadDiscrepancies, authLost });
  $("recon-readonly").hidden = canAct;
  // each state by its name from the one table, after the page's two groupings
  $("recon-state").append(...entries("discrepancy_state").map(([state, label]) => new Option(label, state)));
  $("recon-from").value = addDays(today(), -6);
  $("recon-to").value = today();
  $("recon-filters").addEventListener("submit", (event) => {
    event.preventDefault();
    page = 1;
    flash("");
    loadDiscrepancies();
  });
  $("recon-refresh").addEventListener("click", () => {
    flash("");
    loadDiscrepancies();
  });
  $("recon-prev").addEventListener("click", () => { page -= 1; loadDiscrepancies(); });
  $("recon-next").addEventListener("click", () => { page += 1; loadDiscrepancies(); });
  return loadDiscrepancies();
}

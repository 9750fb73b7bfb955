// 大厅与窗口: offices, their windows and the card terminal at each window.
import { api, messageOf } from "./api.js";
import { $, el } from "./dom.js";
import { OFFICE_KIND_ZH, fillSelect, flash, loadOffices, markInvalid, showEdit, state, stateBadge, values } from "./admin-common.js";

let windowTarget = null; // { office, window? } the dialog adds to or changes
let onErrorRef = () => {};
let onChangedRef = () => {};

function button(text, className, onClick) {
  const b = el("button", text, className);
  b.type = "button";
  b.addEventListener("click", onClick);
  return b;
}

async function refresh() {
  await loadOffices();
  draw();
  onChangedRef();
}

async function patch(path, body, done) {
  try {
    await api("PATCH", path, { body });
    await refresh();
    flash(done);
  } catch (err) {
    onErrorRef(err);
  }
}

function officeBlock(o) {
  const box = el("section", "", "office-block");
  box.dataset.office = o.code;
  const head = el("div", "", "office-head");
  const title = el("h3", o.name);
  head.append(title, el("span", `${o.code} · ${o.kind_zh}`, "muted"), stateBadge(!o.active));
  if (o.kind === "branch") head.append(el("span", `${o.partner_bank || "未填合作银行"} · ${o.branch_name || "未填支行"}`, "outlet-bank"));
  const rename = button("改名", "small", async () => {
    const name = prompt(`大厅“${o.name}”的新名称：`, o.name);
    if (name && name.trim() && name.trim() !== o.name) {
      await patch(`/api/v1/admin/offices/${encodeURIComponent(o.code)}`, { name: name.trim() }, `已将大厅改名为 ${name.trim()}。`);
    }
  });
  const toggle = button(o.active ? "停用大厅" : "启用大厅", o.active ? "small danger" : "small", () =>
    patch(`/api/v1/admin/offices/${encodeURIComponent(o.code)}`, { active: !o.active }, `已${o.active ? "停用" : "启用"}大厅 ${o.name}。`),
  );
  const add = button("添加窗口", "small", () => openWindow(o, null));
  const kind = button("修改类型", "small", () => openOffice(o));
  const tools = el("span", "", "office-tools");
  tools.append(rename, kind, toggle, add);
  head.append(tools);
  box.append(head);
  if (!o.windows.length) {
    box.append(el("p", "尚未配置窗口。", "muted"));
    return box;
  }
  const table = el("table", "", "grid inner");
  const thead = el("thead");
  const hr = el("tr");
  for (const t of ["窗口编码", "窗口名称", "银行卡终端", "状态", "操作"]) hr.append(el("th", t));
  thead.append(hr);
  const tbody = el("tbody");
  for (const w of o.windows) {
    const tr = el("tr");
    tr.dataset.window = w.code;
    const st = el("td");
    st.append(stateBadge(!w.active));
    const ops = el("td", "", "c-op");
    ops.append(
      button("修改", "small", () => openWindow(o, w)),
      button(w.active ? "停用" : "启用", w.active ? "small danger" : "small", () =>
        patch(
          `/api/v1/admin/offices/${encodeURIComponent(o.code)}/windows/${encodeURIComponent(w.code)}`,
          { active: !w.active },
          `已${w.active ? "停用" : "启用"}${o.name}${w.name}。`,
        ),
      ),
    );
    tr.append(el("td", w.code, "mono"), el("td", w.name), el("td", w.terminal_id || "无", "mono"), st, ops);
    tbody.append(tr);
  }
  table.append(thead, tbody);
  box.append(table);
  return box;
}

function draw() {
  const list = state.offices.map(officeBlock);
  $("offices").replaceChildren(...(list.length ? list : [el("p", "尚未配置办事大厅。", "empty")]));
}

// 银行网点 (同城通办): the partner bank and branch are asked for, and sent, only for an outlet
function showOutletFields(form) {
  const outlet = form.kind.value === "branch";
  for (const label of form.querySelectorAll(".outlet-only")) label.hidden = !outlet;
}

function outletBody(v) {
  return v.kind === "branch" ? { partner_bank: v.partner_bank || null, branch_name: v.branch_name || null } : {};
}

let officeTarget = null; // the office whose kind the dialog changes

function openOffice(o) {
  officeTarget = o;
  showEdit("office-dialog", `${o.name}（${o.code}）`, (form) => {
    fillSelect(form.kind, Object.entries(OFFICE_KIND_ZH), o.kind);
    form.partner_bank.value = o.partner_bank || "";
    form.branch_name.value = o.branch_name || "";
    showOutletFields(form);
  });
}

async function saveOffice(event) {
  event.preventDefault();
  const form = $("office-edit");
  const v = values(form);
  const o = officeTarget;
  const body = { ...(v.kind !== o.kind ? { kind: v.kind } : {}), ...outletBody(v) };
  for (const k of ["partner_bank", "branch_name"]) if (k in body && body[k] === o[k]) delete body[k];
  try {
    if (Object.keys(body).length) await api("PATCH", `/api/v1/admin/offices/${encodeURIComponent(o.code)}`, { body });
    $("office-dialog").close();
    await refresh();
    flash(`已保存${o.name}的类型：${OFFICE_KIND_ZH[v.kind] || v.kind}。`);
  } catch (err) {
    markInvalid(form, err);
    $("office-dialog-error").textContent = messageOf(err);
  }
}

function openWindow(office, w) {
  windowTarget = { office, window: w };
  $("window-dialog-title").textContent = w ? `修改窗口` : `添加窗口`;
  showEdit("window-dialog", w ? `${office.name} · ${w.name}（${w.code}）` : office.name, (form) => {
    form.code.value = w ? w.code : "";
    form.code.disabled = Boolean(w);
    form.name.value = w ? w.name : "";
    form.terminal_id.value = w && w.terminal_id ? w.terminal_id : "";
  });
}

async function saveWindow(event) {
  event.preventDefault();
  const form = $("window-edit");
  const v = values(form);
  const { office, window: w } = windowTarget;
  const terminal = v.terminal_id || null;
  const base = `/api/v1/admin/offices/${encodeURIComponent(office.code)}/windows`;
  try {
    if (w) {
      const body = {};
      if (v.name !== w.name) body.name = v.name;
      if (terminal !== w.terminal_id) body.terminal_id = terminal;
      if (Object.keys(body).length) await api("PATCH", `${base}/${encodeURIComponent(w.code)}`, { body });
    } else {
      await api("POST", base, { body: { code: v.code, name: v.name, terminal_id: terminal } });
    }
    $("window-dialog").close();
    await refresh();
    flash(`已保存${office.name}${v.name || ""}。`);
  } catch (err) {
    markInvalid(form, err);
    $("window-dialog-error").textContent = messageOf(err);
  }
}

export function setupPlaces({ onError, onChanged }) {
  onErrorRef = onError;
  onChangedRef = onChanged;
  const form = $("office-form");
  fillSelect(form.kind, Object.entries(OFFICE_KIND_ZH), "hall");
  form.kind.addEventListener("change", () => showOutletFields(form));
  // an administrator of one office does not create offices: the server would refuse
  form.hidden = Boolean(state.me.office);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const v = values(form);
    try {
      await api("POST", "/api/v1/admin/offices", { body: { code: v.code, name: v.name, kind: v.kind, ...outletBody(v) } });
      markInvalid(form, null);
      form.code.value = "";
      form.name.value = "";
      form.partner_bank.value = "";
      form.branch_name.value = "";
      await refresh();
      flash(`已新建大厅 ${v.name}。`);
    } catch (err) {
      markInvalid(form, err);
      onError(err);
    }
  });
  $("window-edit").addEventListener("submit", saveWindow);
  $("office-edit").addEventListener("submit", saveOffice);
  $("office-edit").kind.addEventListener("change", () => showOutletFields($("office-edit")));
  draw();
  return { load: refresh };
}

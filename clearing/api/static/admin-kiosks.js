// 系统管理 · 自助缴费终端: register a kiosk for one office (its one-time enrolment code is shown
// once, with the link that enrols the kiosk's browser), see which kiosks are in use, revoke one.
import { api } from "./api.js";
import { $, el } from "./dom.js";
import { fillSelect, flash, officeName, showSecret, state, values } from "./admin-common.js";
import { dateTime } from "./time.js";

let kiosks = [];
let onError = () => {};

function badge(k) {
  const cls = { active: "s-CLEARED", pending: "s-OPEN", code_expired: "s-EXPIRED", revoked: "s-CANCELLED" };
  return el("span", k.state_zh, `badge ${cls[k.state] || ""}`);
}

function row(k) {
  const tr = el("tr");
  tr.append(el("td", k.name), el("td", officeName(k.office)));
  const standing = el("td");
  standing.append(badge(k));
  tr.append(
    standing,
    el("td", k.enrolled_at ? dateTime(k.enrolled_at) : "—"),
    el("td", k.last_seen_at ? dateTime(k.last_seen_at) : "—"),
  );
  const ops = el("td", "", "c-op");
  if (k.state !== "revoked") {
    const revoke = el("button", "停用", "small danger");
    revoke.type = "button";
    revoke.addEventListener("click", async () => {
      if (!confirm(`确定停用自助终端 ${k.name}？停用后该终端立即无法使用，不能恢复。`)) return;
      revoke.disabled = true;
      try {
        await api("POST", `/api/v1/admin/kiosks/${k.id}/revoke`);
        await load();
        flash(`已停用自助终端 ${k.name}。`);
      } catch (err) {
        revoke.disabled = false;
        onError(err);
      }
    });
    ops.append(revoke);
  }
  tr.append(ops);
  return tr;
}

function redraw() {
  const none = el("tr");
  none.append(el("td", "尚未登记自助终端。", "muted"));
  none.firstChild.colSpan = 6;
  $("kiosks").replaceChildren(...(kiosks.length ? kiosks.map(row) : [none]));
  // a kiosk always belongs to one office: no "none" choice
  const open = state.offices.filter((o) => o.active).map((o) => [o.code, o.name]);
  fillSelect($("kiosk-form").office, open, $("kiosk-form").office.value || state.me.office || "");
}

async function load() {
  kiosks = (await api("GET", "/api/v1/admin/kiosks")).kiosks;
  redraw();
}

export function setupKiosks(handlers) {
  onError = handlers.onError;
  const form = $("kiosk-form");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const v = values(form);
    try {
      const out = await api("POST", "/api/v1/admin/kiosks", { body: { office: v.office, name: v.name } });
      const link = `${location.origin}/kiosk#enrol=${out.enrol_code}`;
      showSecret(
        `自助终端 ${out.name}（${officeName(out.office)}）的启用码，24小时内在终端上输入一次有效；也可在终端浏览器打开 ${link}`,
        out.enrol_code,
        "启用码",
      );
      form.name.value = "";
      await load();
      flash(`已登记自助终端 ${out.name}。`);
    } catch (err) {
      onError(err);
    }
  });
  return { load };
}

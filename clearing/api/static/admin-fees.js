// 收费标准: the registration fee schedule's versions, and publishing one for a future date.
import { api } from "./api.js";
import { $, el, today } from "./dom.js";
import { flash, markInvalid, values } from "./admin-common.js";
import { formatFen, parseYuan } from "./money.js";

const EXEMPTION_ZH = { small_micro_enterprise: "小微企业免收" };
let onErrorRef = () => {};

function status(schedule, versions, day) {
  if (schedule.effective_from > day) return ["待生效", "s-PAYING"];
  const current = versions.filter((s) => s.effective_from <= day).at(-1);
  return schedule === current ? ["现行", "s-CLEARED"] : ["已失效", "s-CANCELLED"];
}

async function load() {
  const { schedules } = await api("GET", "/api/v1/admin/fee-schedules");
  const versions = [...schedules].sort((a, b) => (a.effective_from < b.effective_from ? -1 : 1));
  const day = today();
  const rows = [...versions].reverse().map((s) => {
    const tr = el("tr");
    const [text, cls] = status(s, versions, day);
    const badge = el("td");
    badge.append(el("span", text, `badge ${cls}`));
    tr.append(
      el("td", `第 ${s.version} 版`),
      el("td", s.effective_from),
      el("td", formatFen(s.residential_fen), "num"),
      el("td", formatFen(s.non_residential_fen), "num"),
      el("td", formatFen(s.extra_certificate_fen), "num"),
      el("td", s.exemptions.map((e) => EXEMPTION_ZH[e] || e).join("、") || "无"),
      el("td", s.basis || "—", "reason"),
      badge,
    );
    return tr;
  });
  $("fees").replaceChildren(...rows);
}

function tomorrow() {
  const d = new Date();
  d.setDate(d.getDate() + 1);
  return today(d);
}

async function publish(event) {
  event.preventDefault();
  const form = $("fee-form");
  const v = values(form);
  const amounts = {
    residential_fen: parseYuan(v.residential),
    non_residential_fen: parseYuan(v.non_residential),
    extra_certificate_fen: parseYuan(v.extra_certificate),
  };
  const names = { residential_fen: "residential", non_residential_fen: "non_residential", extra_certificate_fen: "extra_certificate" };
  let bad = false;
  for (const [k, fen] of Object.entries(amounts)) {
    const wrong = fen === null;
    form[names[k]].setAttribute("aria-invalid", String(wrong));
    bad ||= wrong;
  }
  if (bad || !v.effective_from) {
    onErrorRef({ status: 422, message: "", problem: null, zh: "请填写生效日期和三项金额（元，最多两位小数）。" });
    return;
  }
  if (!confirm(`确定发布自 ${v.effective_from} 起生效的新收费标准？发布后不能修改。`)) return;
  const body = {
    effective_from: v.effective_from,
    residential_fen: Number(amounts.residential_fen),
    non_residential_fen: Number(amounts.non_residential_fen),
    extra_certificate_fen: Number(amounts.extra_certificate_fen),
    exemptions: form.small_micro.checked ? ["small_micro_enterprise"] : [],
    basis: v.basis,
  };
  try {
    const out = await api("POST", "/api/v1/admin/fee-schedules", { body });
    markInvalid(form, null);
    form.reset();
    form.effective_from.min = tomorrow();
    await load();
    flash(`已发布第 ${out.version} 版收费标准，自 ${out.effective_from} 起生效。`);
  } catch (err) {
    markInvalid(form, err);
    onErrorRef(err);
  }
}

export function setupFees({ onError }) {
  onErrorRef = onError;
  const form = $("fee-form");
  form.effective_from.min = tomorrow();
  form.addEventListener("submit", publish);
  return { load };
}

// 事件通知: the case system's webhook subscriptions (secret shown once, rotate, disable), the
// deliveries with the dead-letter view, and 重新投递. Global administrators only: an office's
// administrator does not see this card (the server refuses them with WEBHOOK_ADMIN_ONLY).
import { api } from "./api.js";
import { $, el } from "./dom.js";
import { fillSelect, flash, markInvalid, showSecret, state, values } from "./admin-common.js";
import { entries, nameOf } from "./naming.js";

let onErrorRef = () => {};

async function act(button, work) {
  button.disabled = true;
  try {
    await work();
  } catch (err) {
    onErrorRef(err);
  } finally {
    button.disabled = false;
  }
}

function button(text, onClick) {
  const b = el("button", text, "small");
  b.type = "button";
  b.addEventListener("click", () => act(b, onClick));
  return b;
}

function subscriptionRow(s) {
  const tr = el("tr");
  tr.dataset.subscription = String(s.id);
  const standing = el("td");
  standing.append(el("span", s.active ? "正常" : "已停用", `badge ${s.active ? "s-CLEARED" : "s-CANCELLED"}`));
  if (s.active && s.secrets_active > 1) standing.append(el("div", "密钥更换过渡期", "muted small"));
  tr.append(
    el("td", s.name),
    el("td", s.url, "mono error-text"),
    el("td", s.event_types_zh.join("、")),
    standing,
    el("td", String(s.pending), "num"),
    el("td", String(s.dead), "num"),
  );
  const ops = el("td", "", "c-op");
  if (s.active) {
    ops.append(
      button("更换密钥", async () => {
        if (!confirm(`为「${s.name}」生成新的签名密钥？旧密钥在过渡期内继续签名。`)) return;
        const out = await api("POST", `/api/v1/admin/webhooks/${s.id}/secret`);
        showSecret(`「${s.name}」的新签名密钥（请配置到接收方；旧密钥过渡期后停用）：`, out.secret, "签名密钥");
        await load();
      }),
      button("停用", async () => {
        if (!confirm(`停用「${s.name}」？停用后不再推送事件。`)) return;
        await api("POST", `/api/v1/admin/webhooks/${s.id}/disable`);
        flash(`已停用事件订阅「${s.name}」。`);
        await load();
      }),
    );
  }
  tr.append(ops);
  return tr;
}

function deliveryRow(d) {
  const tr = el("tr");
  tr.dataset.delivery = String(d.id);
  tr.dataset.order = d.order_no;
  const stateCell = el("td");
  const cls = { DELIVERED: "s-CLEARED", DEAD: "s-EXCEPTION", PENDING: "s-PAYING", WAITING: "s-OPEN" }[d.state];
  stateCell.append(el("span", d.state_zh, `badge ${cls || ""}`));
  tr.append(
    el("td", d.occurred_at),
    el("td", d.type_zh),
    el("td", d.order_no, "mono"),
    el("td", d.case_no),
    stateCell,
    el("td", String(d.attempts), "num"),
    el("td", d.last_error || (d.last_status ? `已确认（${d.last_status}）` : "—"), "error-text"),
    el("td", d.next_attempt_at || "—"),
  );
  const ops = el("td", "", "c-op");
  if (d.state === "DEAD" || d.state === "DELIVERED") {
    ops.append(
      button("重新投递", async () => {
        await api("POST", `/api/v1/admin/webhook-deliveries/${d.id}/resend`);
        flash(`已安排重新投递：缴费单 ${d.order_no} 的「${d.type_zh}」事件。`);
        await load();
      }),
    );
  }
  tr.append(ops);
  return tr;
}

async function load() {
  const filter = $("delivery-filter").value;
  const query = filter ? `?state=${encodeURIComponent(filter)}` : "";
  const [{ subscriptions }, { deliveries }] = await Promise.all([
    api("GET", "/api/v1/admin/webhooks"),
    api("GET", `/api/v1/admin/webhook-deliveries${query}`),
  ]);
  $("hooks").replaceChildren(...subscriptions.map(subscriptionRow));
  const empty = el("tr");
  empty.append(el("td", filter === "DEAD" ? "没有死信。" : "暂无投递记录。", "muted"));
  empty.firstChild.colSpan = 9;
  $("deliveries").replaceChildren(...(deliveries.length ? deliveries.map(deliveryRow) : [empty]));
  const dead = subscriptions.reduce((n, s) => n + s.dead, 0);
  $("hooks-count").textContent = `订阅 ${subscriptions.length} 个，死信 ${dead} 条`;
}

async function subscribe(event) {
  event.preventDefault();
  const form = $("hook-form");
  const v = values(form);
  const types = [...form.querySelectorAll("input[name=event_type]:checked")].map((x) => x.value);
  try {
    const out = await api("POST", "/api/v1/admin/webhooks", {
      body: { name: v.name, url: v.url, event_types: types },
    });
    markInvalid(form, null);
    form.reset();
    showSecret(`「${out.subscription.name}」的签名密钥（请配置到接收方，关闭后不再显示）：`, out.secret, "签名密钥");
    await load();
  } catch (err) {
    markInvalid(form, err);
    onErrorRef(err);
  }
}

export function setupWebhooks({ onError }) {
  onErrorRef = onError;
  if (state.me.office) {
    // a subscription hears of every office's orders: not an office administrator's to manage
    $("hooks-card").hidden = true;
    $("hooks-nav").hidden = true;
    return { load: async () => {} };
  }
  const group = $("hook-types");
  for (const [code, name] of entries("webhook_event")) {
    const label = el("label");
    const box = el("input");
    box.type = "checkbox";
    box.name = "event_type";
    box.value = code;
    box.checked = true;
    label.append(box, name);
    group.append(label);
  }
  const filter = $("delivery-filter");
  fillSelect(filter, [["DEAD", `${nameOf("webhook_delivery_state", "DEAD")}`],
    ...entries("webhook_delivery_state").filter(([c]) => c !== "DEAD")], "", "全部");
  filter.addEventListener("change", () => load().catch(onError));
  $("deliveries-refresh").addEventListener("click", () => load().catch(onError));
  $("hook-form").addEventListener("submit", subscribe);
  return { load };
}

// The one place that talks to /api/v1: this tab's bearer token, JSON bodies, errors in Chinese.

const TOKEN_KEY = "tj_token";
const USER_KEY = "tj_user";

export function saveSession(token, user) {
  sessionStorage.setItem(TOKEN_KEY, token);
  sessionStorage.setItem(USER_KEY, JSON.stringify(user));
}

export function clearSession() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem(USER_KEY);
}

export function sessionToken() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export class ApiError extends Error {
  constructor(status, problem, message) {
    super(message);
    this.status = status;
    this.problem = problem; // the problem+json body, when the server sent one
  }
}

const STATUS_ZH = {
  0: "无法连接服务器，请检查网络后重试。",
  401: "登录已失效，请重新登录。",
  403: "您无权执行此操作。",
  404: "未找到请求的内容。",
  409: "操作与当前状态冲突，请刷新后重试。",
  413: "提交的内容过大。",
};

// when the person at the screen last pressed a key or clicked: a page that refreshes itself on a
// timer says how long ago that was, so that an unattended screen's session still runs idle
let lastInput = Date.now();
for (const type of ["pointerdown", "keydown"]) {
  addEventListener(type, () => { lastInput = Date.now(); }, { capture: true, passive: true });
}

export async function api(method, path, { body, headers = {}, auth = true } = {}) {
  const h = {
    Accept: "application/json",
    "X-User-Idle-S": String(Math.floor((Date.now() - lastInput) / 1000)),
    ...headers,
  };
  const token = sessionToken();
  if (auth && token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h["Content-Type"] = "application/json";
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers: h,
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
      cache: "no-store",
    });
  } catch {
    throw new ApiError(0, null, STATUS_ZH[0]);
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!resp.ok) {
    // a temporary password (set by an administrator): the change-password page is the only way on
    if (resp.status === 403 && data && data.code === "PASSWORD_CHANGE_REQUIRED" &&
        location.pathname !== "/password") {
      location.replace(`/password?next=${encodeURIComponent(location.pathname)}`);
    }
    const fallback = STATUS_ZH[resp.status] ||
      (resp.status >= 500 ? "服务器暂时无法处理，请稍后重试。" : `请求失败（${resp.status}）。`);
    throw new ApiError(resp.status, data, fallback);
  }
  return data;
}

const FIELD_ZH = {
  username: "用户名",
  password: "密码",
  current_password: "当前密码",
  new_password: "新密码",
  case_no: "业务受理号",
  payer_name: "缴款人姓名",
  payer_id: "证件号码",
  office: "办事大厅",
  window: "窗口号",
  lines: "收费明细",
  item_code: "收费项目",
  amount: "金额",
  amount_fen: "金额",
  reference: "票号/缴款码",
  reason: "原因",
  note: "审批意见",
  auth_code: "付款码",
  terminal_id: "终端号",
  channel: "支付渠道",
  partner_bank: "合作银行",
  branch_name: "所在支行（网点）",
};

function fieldZh(loc) {
  const [head, index, tail] = String(loc).split(".");
  if (head === "lines" && /^\d+$/.test(index || "")) {
    return `第${Number(index) + 1}项${FIELD_ZH[tail] || ""}`;
  }
  return FIELD_ZH[head] || head;
}

/** What to tell the clerk about a failed call: the server's own Chinese message when it has one. */
export function messageOf(err) {
  if (!(err instanceof ApiError)) return "页面出现错误，请刷新后重试。";
  const p = err.problem;
  if (p && p.code === "VALIDATION_FAILED" && Array.isArray(p.errors) && p.errors.length) {
    const fields = [...new Set(p.errors.map((e) => fieldZh(e.loc)))];
    return `${p.detail_zh}：${fields.join("、")}。`;
  }
  if (p && p.detail_zh) {
    // a request id lets the administrator find a server fault in the logs
    return err.status >= 500 && p.request_id ? `${p.detail_zh}（请求编号 ${p.request_id}）` : p.detail_zh;
  }
  return err.message;
}

/** The header's 退出 button: ends the session on the server (after ``before``, if given), then
 * leaves the page by ``leave`` whatever the server answered: a dead network signs out too. */
export function wireLogout(button, leave, before = null) {
  button.addEventListener("click", async () => {
    try {
      if (before) await before();
      await api("DELETE", "/api/v1/sessions");
    } finally {
      leave();
    }
  });
}

// Refund requests as staff see them: the states in Chinese, and which lines are still free.

export const REFUND_STATE_ZH = {
  REQUESTED: "待审批",
  REJECTED: "已驳回",
  APPROVED: "已批准",
  PROCESSING: "退款中",
  ABNORMAL: "退款异常",
  SUCCEEDED: "已退款",
  FAILED: "退款失败",
};

// a rejected or failed request gives its lines back: they may be asked for again
const RELEASED = new Set(["REJECTED", "FAILED"]);

export function refundStateZh(state) {
  return REFUND_STATE_ZH[state] || state;
}

/** line_no → the refund request that holds it (requested, approved, under way or done). */
export function heldLines(refunds) {
  const held = new Map();
  for (const r of refunds) {
    if (RELEASED.has(r.state)) continue;
    for (const line of r.lines) held.set(line.line_no, r);
  }
  return held;
}

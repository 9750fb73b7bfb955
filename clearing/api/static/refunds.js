// Refund requests as staff see them: the states by their names, and which lines are still free.
import { nameOf } from "./naming.js";

// a rejected or failed request gives its lines back: they may be asked for again
const RELEASED = new Set(["REJECTED", "FAILED"]);

export function refundStateZh(state) {
  return nameOf("refund_state", state);
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

// Money as integer fen in BigInt. A yuan string is split at the point, never parsed as a float:
// 0.1 + 0.2 must not reach a citizen's receipt.

// the server's rule (clearing.domain.money.parse_yuan): ASCII digits, at most two decimals
const YUAN = /^([0-9]+)(?:\.([0-9]{1,2}))?$/;

/** "1234.5" → 123450n; null when the text is not a yuan amount. */
export function parseYuan(text) {
  const match = YUAN.exec(String(text).trim());
  if (!match) return null;
  const [, whole, decimals = ""] = match;
  return BigInt(whole) * 100n + BigInt(decimals.padEnd(2, "0"));
}

/** 123456n (or an integer) → "¥1,234.56". */
export function formatFen(fen) {
  let f = BigInt(fen);
  const sign = f < 0n ? "-" : "";
  if (f < 0n) f = -f;
  const whole = (f / 100n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  const cents = (f % 100n).toString().padStart(2, "0");
  return `${sign}¥${whole}.${cents}`;
}

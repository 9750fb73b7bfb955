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

// 大写金额, exactly as the server writes it (clearing.domain.money.capital_amount): one 零 for
// every run of zeros between non-zero digits, 整 after 元 or 角, 壹 always before 拾.
const DIGITS = "零壹贰叁肆伍陆柒捌玖";
const SMALL_UNITS = ["", "拾", "佰", "仟"];

function groupMark(yuan, power) {
  if (power === 0) return "元";
  const above = yuan / 10n ** BigInt(power);
  if (power % 8 === 4 && above % 10000n !== 0n) return "万";
  if (power % 8 === 0 && above % 100000000n !== 0n) return "亿";
  return "";
}

/** 10005n (or an integer) → "壹佰元零伍分". */
export function capitalFen(fen) {
  const f = BigInt(fen);
  if (f < 0n) throw new RangeError("a capital amount cannot be negative");
  if (f === 0n) return "零元整";
  const yuan = f / 100n;
  const jiao = Number((f % 100n) / 10n);
  const cents = Number(f % 10n);
  const digits = yuan ? yuan.toString() : "";
  const places = [...digits].map((char, index) => {
    const power = digits.length - 1 - index;
    return [Number(char), SMALL_UNITS[power % 4], groupMark(yuan, power)];
  });
  places.push([jiao, "角", ""], [cents, "分", ""]);
  const parts = [];
  let zeroPending = false; // zeros after a non-zero digit, written only if one follows
  for (const [digit, unit, mark] of places) {
    if (digit) {
      if (zeroPending) {
        parts.push("零");
        zeroPending = false;
      }
      parts.push(DIGITS[digit] + unit);
    } else if (parts.length) {
      zeroPending = true;
    }
    parts.push(mark);
  }
  if (cents === 0) parts.push("整");
  return parts.join("");
}

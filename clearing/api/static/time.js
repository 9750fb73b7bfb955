// Every time staff read is Beijing time, whatever zone the browser runs in: the one helper for
// showing an instant (the server's twin is clearing/domain/times.py). Never format a Date with
// getHours() or toLocaleString() elsewhere: they use the browser's zone.
//
//   import { dateTime, clock, today, addDays } from "./time.js";
//   dateTime("2026-12-07T01:30:00Z")  // "2026-12-07 09:30:00"
//   clock(iso)                         // "09:30:00"
//   today()                            // the Beijing date now, "YYYY-MM-DD"
//   addDays(today(), -7)               // "YYYY-MM-DD" a week before

export const TIME_ZONE = "Asia/Shanghai";

const FORMAT = new Intl.DateTimeFormat("en-CA", {
  timeZone: TIME_ZONE,
  year: "numeric",
  month: "2-digit",
  day: "2-digit",
  hour: "2-digit",
  minute: "2-digit",
  second: "2-digit",
  hourCycle: "h23",
});

function parts(value) {
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return null;
  const out = {};
  for (const p of FORMAT.formatToParts(d)) out[p.type] = p.value;
  return out;
}

/** An instant (ISO text or Date) → Beijing "YYYY-MM-DD HH:MM:SS"; "—" for none. */
export function dateTime(value) {
  const p = value ? parts(value) : null;
  return p ? `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}:${p.second}` : "—";
}

/** An instant → Beijing "YYYY-MM-DD HH:MM"; "—" for none. */
export function dateMinute(value) {
  const p = value ? parts(value) : null;
  return p ? `${p.year}-${p.month}-${p.day} ${p.hour}:${p.minute}` : "—";
}

/** An instant → Beijing "HH:MM:SS"; "—" for none. */
export function clock(value) {
  const p = value ? parts(value) : null;
  return p ? `${p.hour}:${p.minute}:${p.second}` : "—";
}

/** The Beijing calendar date of an instant (now by default): the business day, "YYYY-MM-DD". */
export function today(value = new Date()) {
  const p = parts(value);
  return p ? `${p.year}-${p.month}-${p.day}` : "";
}

/** "YYYY-MM-DD" plus ``n`` days (calendar arithmetic, no time zone involved). */
export function addDays(day, n) {
  const [y, m, d] = day.split("-").map(Number);
  const t = new Date(Date.UTC(y, m - 1, d + n));
  const pad = (x) => String(x).padStart(2, "0");
  return `${t.getUTCFullYear()}-${pad(t.getUTCMonth() + 1)}-${pad(t.getUTCDate())}`;
}

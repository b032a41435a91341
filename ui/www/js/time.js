// Clock times as the UI shows them: "HH:MM" (24-hour, the same in Japanese and English),
// with "M/D" in front when the moment is not on today's date, so "offline since 23:50"
// seen the next morning is not mistaken for tonight.

/**
 * @typedef {object} ClockOptions
 * @property {number} [now] ms since the Unix epoch; defaults to the current time
 * @property {string} [timeZone] IANA zone; defaults to the device's (tests pass "UTC")
 */

/** @type {Map<string, Intl.DateTimeFormat>} */
const formats = new Map();

/** @param {string | undefined} timeZone */
function format(timeZone) {
  const key = timeZone ?? '';
  let f = formats.get(key);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone,
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    });
    formats.set(key, f);
  }
  return f;
}

/**
 * @param {number} ms
 * @param {string | undefined} timeZone
 */
function parts(ms, timeZone) {
  /** @type {Record<string, string>} */
  const p = {};
  for (const { type, value } of format(timeZone).formatToParts(ms)) p[type] = value;
  return p;
}

/**
 * @param {number} ms when, in ms since the Unix epoch
 * @param {ClockOptions} [options]
 * @returns {string} "14:05", or "11/24 23:50" when not today
 */
export function formatClock(ms, { now = Date.now(), timeZone } = {}) {
  const p = parts(ms, timeZone);
  const clock = `${p.hour}:${p.minute}`;
  const today = parts(now, timeZone);
  const sameDay = p.year === today.year && p.month === today.month && p.day === today.day;
  return sameDay ? clock : `${p.month}/${p.day} ${clock}`;
}

/**
 * A date with its time, for moments that may be long ago (when a device was enrolled):
 * "2025-11-24 14:05", the same in Japanese and English.
 * @param {number} ms when, in ms since the Unix epoch
 * @param {Pick<ClockOptions, 'timeZone'>} [options]
 */
export function formatDate(ms, { timeZone } = {}) {
  const p = parts(ms, timeZone);
  return `${p.year}-${p.month.padStart(2, '0')}-${p.day.padStart(2, '0')} ${p.hour}:${p.minute}`;
}

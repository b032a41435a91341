// The alert inbox's pure part: what each row shows (its time, the site's name, the kind in
// words, whether it is critical, who acknowledged it) and how many alerts still wait for
// someone. The view (views/alerts.js) only lays these out, as text.

import { translate } from './i18n.js';
import { alertKindLabel, isCriticalAlert } from './labels.js';
import { formatClock } from './time.js';

/**
 * @typedef {import('./types.js').AlertView} AlertView
 * @typedef {import('./types.js').AlertKind} AlertKind
 * @typedef {import('./types.js').SiteSummary} SiteSummary
 * @typedef {import('./i18n.js').Lang} Lang
 * @typedef {import('./labels.js').Tone} Tone
 */

/**
 * @typedef {object} AlertRow
 * @property {string} id
 * @property {string} siteId
 * @property {AlertKind} kind
 * @property {string} time "14:05", or "11/24 23:50" when not today
 * @property {number} timeMs when it happened, ms since the Unix epoch
 * @property {string} siteName the site's name; its id while the name is unknown
 * @property {string} kindText the kind in words
 * @property {Tone} tone
 * @property {boolean} critical fire, panic, intrusion
 * @property {string} title as the core gave it: shown as text, never parsed
 * @property {string | null} zone
 * @property {string | null} camera the alert's first related camera, opened by the row
 * @property {string | null} acked "Acknowledged by {user} · 14:07", or null while not acknowledged
 * @property {string | null} note the note given with the acknowledgement, as text
 * @property {'none' | 'ready' | 'unreadable'} picture whether a thumbnail of the alert's picture is stored
 * @property {boolean} mayAck not acknowledged yet, and this user's role allows it
 */

/**
 * One possible gap in words.
 * @typedef {object} GapRow
 * @property {string} siteId
 * @property {string} text
 */

/**
 * @typedef {object} RowOptions
 * @property {Lang} lang
 * @property {number} [now] ms since the Unix epoch; defaults to the current time
 * @property {string} [timeZone] defaults to the device's (tests pass "UTC")
 * @property {(siteId: string) => boolean} [mayAck] whether this user may acknowledge the
 *   site's alerts; none may when absent
 */

/**
 * The rows, in the order the core gave them (newest first).
 * @param {readonly AlertView[]} alerts
 * @param {readonly SiteSummary[] | null} sites
 * @param {RowOptions} options
 * @returns {AlertRow[]}
 */
export function alertRows(alerts, sites, { lang, now, timeZone, mayAck }) {
  /** @type {Map<string, string>} */
  const names = new Map();
  for (const s of sites ?? []) if (s.name !== null) names.set(s.id, s.name);
  return alerts.map((a) => {
    const label = alertKindLabel(a.kind);
    return {
      id: a.id,
      siteId: a.siteId,
      kind: a.kind,
      time: formatClock(a.timeMs, { now, timeZone }),
      timeMs: a.timeMs,
      siteName: names.get(a.siteId) ?? a.siteId,
      kindText: translate(lang, label.key),
      tone: label.tone,
      critical: isCriticalAlert(a.kind),
      title: a.title,
      zone: a.zone,
      camera: a.cameras[0] ?? null,
      acked: a.acknowledgedBy === null
        ? null
        : translate(lang, 'alerts.acked', { user: a.acknowledgedBy })
          + (a.acknowledgedMs === null ? '' : ` · ${formatClock(a.acknowledgedMs, { now, timeZone })}`),
      note: a.note,
      picture: a.hasSnapshot ? 'ready' : a.pictureProblem !== null ? 'unreadable' : 'none',
      mayAck: a.acknowledgedBy === null && (mayAck?.(a.siteId) ?? false),
    };
  });
}

/**
 * The possible gaps in words: which site, which events could not be recovered.
 * @param {readonly import('./types.js').PossibleGap[]} gaps
 * @param {readonly SiteSummary[] | null} sites
 * @param {Lang} lang
 * @returns {GapRow[]}
 */
export function gapRows(gaps, sites, lang) {
  const names = new Map((sites ?? []).map((s) => [s.id, s.name ?? s.id]));
  return gaps.map((g) => {
    const site = names.get(g.siteId) ?? g.siteId;
    const text = g.toSeq === null
      ? translate(lang, 'alerts.gapOpen', { site, from: g.fromSeq })
      : translate(lang, 'alerts.gap', { site, from: g.fromSeq, to: g.toSeq, count: g.toSeq - g.fromSeq + 1 });
    return { siteId: g.siteId, text };
  });
}

/**
 * What the inbox shows: one site or all (''), one kind or all (''), open (not
 * acknowledged), acknowledged, or all.
 * @typedef {{ site: string, kind: string, state: 'all' | 'open' | 'acked' }} AlertFilter
 */

/** @type {AlertFilter} */
export const NO_FILTER = { site: '', kind: '', state: 'all' };

/**
 * The alerts the filter lets through, in their order.
 * @param {readonly AlertView[]} alerts
 * @param {AlertFilter} f
 * @returns {AlertView[]}
 */
export function filterAlerts(alerts, f) {
  return alerts.filter((a) => (f.site === '' || a.siteId === f.site)
    && (f.kind === '' || a.kind === f.kind)
    && (f.state === 'all' || (f.state === 'open') === (a.acknowledgedBy === null)));
}

/**
 * The alerts of `next` that `prev` did not have and nobody has acknowledged, newest
 * first; none on the first read (`prev` null), which is history, not news.
 * @param {readonly AlertView[] | null} prev
 * @param {readonly AlertView[] | null} next
 * @returns {AlertView[]}
 */
export function newAlerts(prev, next) {
  if (prev === null || next === null) return [];
  const known = new Set(prev.map((a) => `${a.siteId}/${a.id}`));
  return next.filter((a) => a.acknowledgedBy === null && !known.has(`${a.siteId}/${a.id}`));
}

/**
 * How many alerts nobody has acknowledged yet (0 before the first read).
 * @param {readonly AlertView[] | null} alerts
 */
export function unacknowledged(alerts) {
  return (alerts ?? []).filter((a) => a.acknowledgedBy === null).length;
}

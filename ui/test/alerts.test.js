import { test } from 'node:test';
import assert from 'node:assert/strict';
import { NO_FILTER, alertRows, filterAlerts, gapRows, newAlerts, unacknowledged } from '../www/js/alerts.js';
import { alertKindLabel, isCriticalAlert } from '../www/js/labels.js';
import { translate } from '../www/js/i18n.js';

/**
 * @typedef {import('../www/js/types.js').AlertView} AlertView
 * @typedef {import('../www/js/types.js').AlertKind} AlertKind
 */

// The values the Rust enum serialises to (ui/bindings/AlertKind.ts), listed independently.
/** @type {AlertKind[]} */
const KINDS = ['intrusion', 'door', 'tamper', 'fire', 'panic', 'sensor', 'camera_offline', 'system', 'link_failure'];

const NOW = Date.UTC(2025, 10, 24, 15, 0);

/**
 * @param {Partial<AlertView>} a
 * @returns {AlertView}
 */
const alert = (a) => ({
  siteId: 'tokyo-hq', id: 'x', timeMs: Date.UTC(2025, 10, 24, 14, 5), kind: 'door', zone: null, title: 'Door forced',
  cameras: [], hasSnapshot: false, pictureProblem: null, acknowledgedBy: null, acknowledgedMs: null, note: null, ...a,
});

/** @type {import('../www/js/types.js').SiteSummary[]} */
const SITES = [
  { id: 'tokyo-hq', name: '東京本社', link: 'online', armed: 'armed', cameraCount: 0, faultyCameras: 0, outputCount: 0, lastSeenMs: 1, role: null, roleFromSite: false },
  { id: 'kyoto-new', name: null, link: 'unknown', armed: null, cameraCount: 0, faultyCameras: 0, outputCount: 0, lastSeenMs: null, role: null, roleFromSite: false },
];

test('every alert kind has its own words in both languages', () => {
  assert.deepEqual(KINDS.map((k) => translate('en', alertKindLabel(k).key)),
    ['Intrusion', 'Door', 'Tamper', 'Fire', 'Panic', 'Sensor', 'Camera offline', 'System', 'Link failure']);
  assert.deepEqual(KINDS.map((k) => translate('ja', alertKindLabel(k).key)),
    ['侵入', '扉', 'いたずら', '火災', '非常通報', 'センサー', 'カメラ停止', 'システム', '通信断']);
});

test('fire, panic and intrusion are critical, and toned as alarms', () => {
  assert.deepEqual(KINDS.filter(isCriticalAlert), ['intrusion', 'fire', 'panic']);
  for (const k of KINDS) assert.equal(alertKindLabel(k).tone === 'alarm', isCriticalAlert(k), k);
});

test('a kind from a newer core is shown as System', () => {
  assert.deepEqual(alertKindLabel(/** @type {any} */ ('flood')), alertKindLabel('system'));
});

test('rows: site name, or the id when unknown; kind in words; the title kept as it is', () => {
  const rows = alertRows([
    alert({ id: '2', kind: 'fire', title: '<b>html</b> & "quotes"', zone: 'z3' }),
    alert({ id: '1', siteId: 'kyoto-new', timeMs: Date.UTC(2025, 10, 23, 23, 50) }),
    alert({ id: '0', siteId: 'gone' }),
  ], SITES, { lang: 'en', now: NOW, timeZone: 'UTC' });
  assert.deepEqual(rows.map((r) => r.id), ['2', '1', '0'], 'the order is kept: newest first');
  assert.deepEqual(rows.map((r) => r.siteName), ['東京本社', 'kyoto-new', 'gone']);
  assert.deepEqual(rows.map((r) => r.time), ['14:05', '11/23 23:50', '14:05']);
  assert.equal(rows[0].title, '<b>html</b> & "quotes"');
  assert.equal(rows[0].kindText, 'Fire');
  assert.equal(rows[0].critical, true);
  assert.equal(rows[0].zone, 'z3');
  assert.equal(rows[1].critical, false);
  assert.equal(rows[1].zone, null);
});

test('rows: who acknowledged and when, in the chosen language, with their note as text', () => {
  const alerts = [alert({ acknowledgedBy: 'sato', acknowledgedMs: NOW, note: '<b>on my way</b>' }), alert({})];
  const en = alertRows(alerts, SITES, { lang: 'en', now: NOW, timeZone: 'UTC' });
  assert.deepEqual(en.map((r) => r.acked), ['Acknowledged by sato · 15:00', null]);
  assert.deepEqual(en.map((r) => r.note), ['<b>on my way</b>', null]);
  assert.deepEqual(alertRows(alerts, null, { lang: 'ja', now: NOW, timeZone: 'UTC' }).map((r) => r.acked), ['sato が確認済み · 15:00', null]);
});

test('rows: acknowledging is offered only where the role allows, and only once', () => {
  const alerts = [alert({ siteId: 'tokyo-hq' }), alert({ siteId: 'kyoto-new' }), alert({ siteId: 'tokyo-hq', acknowledgedBy: 'sato' })];
  const mayAck = (/** @type {string} */ site) => site === 'tokyo-hq';
  assert.deepEqual(alertRows(alerts, SITES, { lang: 'en', now: NOW, mayAck }).map((r) => r.mayAck), [true, false, false]);
  assert.deepEqual(alertRows(alerts, SITES, { lang: 'en', now: NOW }).map((r) => r.mayAck), [false, false, false]);
});

test('rows: a picture is ready, absent, or could not be read', () => {
  const rows = alertRows([
    alert({ hasSnapshot: true }), alert({}), alert({ pictureProblem: 'the picture sent with this alert could not be read' }),
  ], SITES, { lang: 'en', now: NOW });
  assert.deepEqual(rows.map((r) => r.picture), ['ready', 'none', 'unreadable']);
});

test('possible gaps in words: the site by name, the events that could not be recovered', () => {
  const rows = gapRows([
    { siteId: 'tokyo-hq', fromSeq: 11, toSeq: 60, notedMs: 1 },
    { siteId: 'kyoto-new', fromSeq: 7, toSeq: 7, notedMs: 1 },
    { siteId: 'gone-site', fromSeq: 3, toSeq: null, notedMs: 1 },
  ], SITES, 'en');
  assert.deepEqual(rows.map((r) => r.text), [
    '東京本社: 50 events (11–60) could not be recovered from the site.',
    'kyoto-new: event 7 could not be recovered from the site.',
    'gone-site: events from 3 of an earlier run of the site could not be recovered.',
  ]);
  assert.match(gapRows([{ siteId: 'tokyo-hq', fromSeq: 11, toSeq: 60, notedMs: 1 }], SITES, 'ja')[0].text, /東京本社: イベント 11–60（50 件）/);
});

test('unacknowledged counts the alerts nobody acknowledged (0 before the first read)', () => {
  assert.equal(unacknowledged(null), 0);
  assert.equal(unacknowledged([]), 0);
  assert.equal(unacknowledged([alert({}), alert({ acknowledgedBy: 'sato' }), alert({})]), 2);
});

test('new alerts: what a read added that nobody acknowledged, none on the first read', () => {
  const a1 = alert({ id: 'a1' });
  const a2 = alert({ id: 'a2' });
  const a3 = alert({ id: 'a3', acknowledgedBy: 'sato' });
  assert.deepEqual(newAlerts(null, [a1]), []);
  assert.deepEqual(newAlerts([a1], [a2, a3, a1]).map((a) => a.id), ['a2']);
  assert.deepEqual(newAlerts([a1], [alert({ id: 'a1', siteId: 'kyoto-new' }), a1]).map((a) => a.siteId), ['kyoto-new']);
});

test('filters: by site, by kind, by state, together', () => {
  const list = [
    alert({ id: 'a', siteId: 'tokyo-hq', kind: 'door' }),
    alert({ id: 'b', siteId: 'kyoto-new', kind: 'intrusion', acknowledgedBy: 'sato' }),
    alert({ id: 'c', siteId: 'tokyo-hq', kind: 'intrusion' }),
  ];
  const ids = (/** @type {Partial<import('../www/js/alerts.js').AlertFilter>} */ f) => filterAlerts(list, { ...NO_FILTER, ...f }).map((a) => a.id);
  assert.deepEqual(ids({}), ['a', 'b', 'c']);
  assert.deepEqual(ids({ site: 'tokyo-hq' }), ['a', 'c']);
  assert.deepEqual(ids({ kind: 'intrusion' }), ['b', 'c']);
  assert.deepEqual(ids({ state: 'open' }), ['a', 'c']);
  assert.deepEqual(ids({ state: 'acked' }), ['b']);
  assert.deepEqual(ids({ site: 'tokyo-hq', kind: 'intrusion', state: 'open' }), ['c']);
});

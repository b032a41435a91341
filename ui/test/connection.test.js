import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connectionBar } from '../www/js/connection.js';
import { translate } from '../www/js/i18n.js';

/** @type {import('../www/js/connection.js').Translate} */
const en = (key, params) => translate('en', key, params);
/** @type {import('../www/js/connection.js').Translate} */
const ja = (key, params) => translate('ja', key, params);
const now = Date.UTC(2025, 10, 24, 15, 0);
const since = Date.UTC(2025, 10, 24, 14, 5);
const clock = { now, timeZone: 'UTC' };

/**
 * @param {import('../www/js/types.js').ConnectionPhase} phase
 * @param {number} attempt
 * @param {import('../www/js/types.js').ConnectionProblem | null} problem
 */
const status = (phase, attempt = 0, problem = null) => ({ phase, sinceMs: since, attempt, problem, encrypted: true, cannotStore: false });

test('connected', () => {
  assert.deepEqual(connectionBar(status('connected'), en, clock), { phase: 'connected', tone: 'ok', text: 'Connected' });
});

test('a plain connection says it is not encrypted', () => {
  const plain = { ...status('connected'), encrypted: false };
  assert.equal(connectionBar(plain, en, clock).text, 'Connected · not encrypted (local test connection)');
  assert.match(connectionBar(plain, ja, clock).text, /暗号化なし/);
});

test('alerts this device cannot save are said above all else, connected or not', () => {
  const full = { ...status('connected'), cannotStore: true };
  assert.deepEqual(connectionBar(full, en, clock), {
    phase: 'connected',
    tone: 'alarm',
    text: 'Connected · alerts cannot be saved on this device (storage full?) — they wait on the server until it can',
  });
  assert.match(connectionBar(full, ja, clock).text, /保存できません/);
  const down = connectionBar({ ...status('reconnecting', 2, 'unreachable'), cannotStore: true }, en, clock);
  assert.equal(down.tone, 'alarm');
  assert.match(down.text, /^Reconnecting .* · alerts cannot be saved/);
});

test('connecting', () => {
  assert.deepEqual(connectionBar(status('connecting'), en, clock), { phase: 'connecting', tone: 'warn', text: 'Connecting…' });
});

test('reconnecting names the attempt and since when the link is down', () => {
  const bar = connectionBar(status('reconnecting', 3), en, clock);
  assert.equal(bar.phase, 'reconnecting');
  assert.equal(bar.tone, 'warn');
  assert.equal(bar.text, 'Reconnecting (attempt 3) · offline since 14:05');
  assert.equal(connectionBar(status('reconnecting', 3), ja, clock).text, '再接続中（3 回目）・14:05 からオフライン');
});

test('a fresh drop counts as the first attempt, not the zeroth', () => {
  assert.match(connectionBar(status('reconnecting', 0), en, clock).text, /attempt 1\)/);
});

test('the reason is added when there is one', () => {
  assert.equal(
    connectionBar(status('reconnecting', 2, 'unreachable'), en, clock).text,
    'Reconnecting (attempt 2) · offline since 14:05 — server unreachable',
  );
  const stopped = connectionBar(status('stopped', 5, 'timedOut'), en, clock);
  assert.deepEqual(stopped, { phase: 'stopped', tone: 'alarm', text: 'Stopped · offline since 14:05 — timed out' });
});

test('refused credentials say to enrol again instead of showing a retry', () => {
  const bar = connectionBar(status('stopped', 1, 'notAuthorized'), en, clock);
  assert.deepEqual(bar, { phase: 'stopped', tone: 'alarm', text: 'The server no longer accepts this device · enrol it again' });
  assert.match(connectionBar(status('stopped', 1, 'notAuthorized'), ja, clock).text, /登録/);
});

test('every problem has words in both languages', () => {
  /** @type {import('../www/js/types.js').ConnectionProblem[]} */
  const problems = ['unreachable', 'notAuthorized', 'refused', 'timedOut', 'closed', 'protocol', 'certificate'];
  for (const t of [en, ja]) {
    const texts = problems.map((p) => connectionBar(status('reconnecting', 1, p), t, clock).text);
    assert.equal(new Set(texts).size, problems.length);
    for (const text of texts) assert.doesNotMatch(text, /problem\.|\{/);
  }
});

test('before the first answer, and outside the app', () => {
  assert.deepEqual(connectionBar(null, en, clock), { phase: 'unknown', tone: 'neutral', text: 'Checking the connection…' });
  assert.deepEqual(connectionBar(null, en, { available: false }), { phase: 'unavailable', tone: 'alarm', text: 'Not running inside the app' });
});

test('an older date shows with the time', () => {
  const bar = connectionBar({ ...status('reconnecting', 9), sinceMs: Date.UTC(2025, 10, 23, 23, 50) }, en, clock);
  assert.equal(bar.text, 'Reconnecting (attempt 9) · offline since 11/23 23:50');
});

test('before enrolment there is nothing to connect to, and it says so calmly', () => {
  const bar = connectionBar(status('stopped'), en, { ...clock, enrolled: false });
  assert.deepEqual(bar, { phase: 'stopped', tone: 'neutral', text: 'Not connected · this device is not enrolled yet' });
  assert.match(connectionBar(status('stopped'), ja, { ...clock, enrolled: false }).text, /登録されていません/);
  // The app's own state wins: outside the app, or once connected, the usual text.
  assert.equal(connectionBar(status('stopped'), en, { available: false, enrolled: false }).phase, 'unavailable');
  assert.equal(connectionBar(status('connected'), en, { ...clock, enrolled: false }).text, 'Connected');
});

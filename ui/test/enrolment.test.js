import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canSubmit, cleanCode, cleanPin, enrolErrorKey, enrolErrorParts, enrolErrorText, needsEnrolment } from '../www/js/enrolment.js';
import { translate } from '../www/js/i18n.js';

/** @type {import('../www/js/connection.js').Translate} */
const en = (key, params) => translate('en', key, params);
/** @type {import('../www/js/connection.js').Translate} */
const ja = (key, params) => translate('ja', key, params);

/** @type {import('../www/js/types.js').ErrorKind[]} */
const KINDS = ['NotFound', 'InvalidInput', 'Unauthenticated', 'PermissionDenied', 'Unavailable', 'Timeout', 'Internal'];

test('the code and the PIN lose the white space that pasting adds', () => {
  assert.equal(cleanCode('  MMR1.abc_-9\n'), 'MMR1.abc_-9');
  assert.equal(cleanCode('\tmimamori://enroll?code=MMR1.abc \r\n'), 'mimamori://enroll?code=MMR1.abc');
  assert.equal(cleanPin(' abcde-fghjk '), 'abcde-fghjk', 'case and hyphens are left to the core');
});

test('the form may be sent only with both fields filled and nothing running', () => {
  assert.equal(canSubmit('MMR1.x', 'ABCDE-FGHJK', false), true);
  assert.equal(canSubmit('', 'ABCDE-FGHJK', false), false);
  assert.equal(canSubmit(' \n ', 'ABCDE-FGHJK', false), false);
  assert.equal(canSubmit('MMR1.x', '   ', false), false);
  assert.equal(canSubmit('MMR1.x', 'ABCDE-FGHJK', true), false);
});

test('only a real device without a profile needs enrolment', () => {
  /**
   * @param {string} profileId
   * @returns {import('../www/js/types.js').ProfileConnection}
   */
  const on = (profileId) => ({ profileId, status: { phase: 'connected', sinceMs: 0, attempt: 0, problem: null, encrypted: true, cannotStore: false } });
  assert.equal(needsEnrolment({ version: '1', demo: false, connections: [] }), true);
  assert.equal(needsEnrolment({ version: '1', demo: false, connections: [on('p1')] }), false);
  assert.equal(needsEnrolment({ version: '1', demo: false, connections: [on('p1'), on('p2')] }), false);
  assert.equal(needsEnrolment({ version: '1', demo: true, connections: [] }), false, 'the demo needs none');
  assert.equal(needsEnrolment(null), false, 'not known before app_info answers');
});

test('each kind of enrolment error has its own meaning, in both languages', () => {
  const main = /** @type {const} */ (['InvalidInput', 'Unauthenticated', 'PermissionDenied', 'Unavailable', 'Internal']);
  for (const t of [en, ja]) {
    const words = main.map((k) => t(enrolErrorKey(k)));
    assert.equal(new Set(words).size, main.length, words.join(' / '));
  }
  for (const kind of KINDS) assert.match(enrolErrorKey(kind), /^enrol\.error\./);
  assert.equal(enrolErrorKey(/** @type {any} */ ('Weird')), 'enrol.error.Internal');
  assert.equal(enrolErrorKey('NotFound'), 'enrol.error.Internal');
});

test('the error line says what the kind means, then the core message', () => {
  assert.equal(enrolErrorText({ kind: 'Unauthenticated', message: 'wrong PIN' }, en), 'The PIN does not match this enrolment code (wrong PIN)');
  assert.equal(enrolErrorText({ kind: 'Unauthenticated', message: 'wrong PIN' }, ja), 'PIN がこの登録コードと一致しません（wrong PIN）');
  const expired = enrolErrorText({ kind: 'InvalidInput', message: 'the enrolment code expired; ask your administrator for a new one' }, en);
  assert.equal(expired, 'This enrolment code cannot be used (the enrolment code expired; ask your administrator for a new one)');
  const locked = enrolErrorText({ kind: 'Unavailable', message: 'the keychain is locked or refuses access; unlock it and try again' }, ja);
  assert.match(locked, /^この端末に認証情報を保存できません（the keychain is locked/);
  assert.match(enrolErrorText({ kind: 'PermissionDenied', message: 'too many wrong PINs' }, en), /no longer be used.*too many wrong PINs/);
  assert.equal(enrolErrorText({ kind: 'Internal', message: '  ' }, en), 'Enrolment failed');
  assert.deepEqual(enrolErrorParts({ kind: 'Unauthenticated', message: 'wrong PIN' }, en), {
    what: 'The PIN does not match this enrolment code',
    detail: ' (wrong PIN)',
  });
});

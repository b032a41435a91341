import { test } from 'node:test';
import assert from 'node:assert/strict';
import { actionLabel, controlKey, guarded, outcomeLabel } from '../www/js/control.js';
import { translate } from '../www/js/i18n.js';

test('unlocking, disarming and silencing need a confirming tap; the rest go at once', () => {
  assert.equal(guarded('lock', 'unlock'), true);
  assert.equal(guarded(null, 'disarm'), true);
  assert.equal(guarded('siren', 'off'), true);
  for (const [kind, action] of /** @type {const} */ ([['siren', 'on'], ['light', 'on'], ['light', 'off'], ['lock', 'lock'], [null, 'arm']])) {
    assert.equal(guarded(kind, action), false, `${kind} ${action}`);
  }
});

test('every control and outcome has words in both languages', () => {
  const controls = /** @type {const} */ ([['siren', 'on'], ['siren', 'off'], ['light', 'on'], ['light', 'off'], ['lock', 'lock'], ['lock', 'unlock'], [null, 'arm'], [null, 'arm_partial'], [null, 'disarm']]);
  /** @type {import('../www/js/types.js').Outcome[]} */
  const outcomes = [
    { outcome: 'done', state: 'on' },
    { outcome: 'denied', by: 'broker', message: null },
    { outcome: 'denied', by: 'site', message: null },
    { outcome: 'failed', message: null },
    { outcome: 'expired' },
    { outcome: 'unconfirmed' },
  ];
  const keys = [...controls.map(([k, a]) => actionLabel(k, a)), ...outcomes.map((o) => outcomeLabel(o).key)];
  for (const key of keys) {
    for (const lang of /** @type {const} */ (['en', 'ja'])) assert.notEqual(translate(lang, key), key);
  }
  // Never "done" unless the site said so.
  assert.equal(outcomeLabel({ outcome: 'unconfirmed' }).tone, 'warn');
  assert.notEqual(outcomeLabel({ outcome: 'unconfirmed' }).key, 'control.done');
});

test('control keys tell outputs, sites and actions apart', () => {
  assert.notEqual(controlKey('hq', 'door', 'unlock'), controlKey('hq', 'door', 'lock'));
  assert.notEqual(controlKey('hq', null, 'arm'), controlKey('shop', null, 'arm'));
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { actionLabel, controlKey, guarded, outcomeLabel } from '../www/js/control.js';
import { translate } from '../www/js/i18n.js';

test('what needs confirming comes from the core\'s controls', () => {
  /** @type {import('../www/js/types.js').SiteControls} */
  const controls = {
    role: 'admin',
    outputs: [{ id: 'door', actions: ['lock', 'unlock'], guarded: ['unlock'] }, { id: 'siren', actions: ['on', 'off'], guarded: ['off'] }],
    arming: ['arm', 'disarm'],
    armingGuarded: ['disarm'],
  };
  assert.equal(guarded(controls, 'door', 'unlock'), true);
  assert.equal(guarded(controls, 'door', 'lock'), false);
  assert.equal(guarded(controls, 'siren', 'off'), true);
  assert.equal(guarded(controls, null, 'disarm'), true);
  assert.equal(guarded(controls, null, 'arm'), false);
  assert.equal(guarded(controls, 'nothing', 'on'), false);
  assert.equal(guarded(null, 'door', 'unlock'), false);
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

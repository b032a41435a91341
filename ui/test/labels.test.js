import { test } from 'node:test';
import assert from 'node:assert/strict';
import { armLabel, healthLabel, kindLabel, linkLabel, outputLabel } from '../www/js/labels.js';
import { translate } from '../www/js/i18n.js';

// The values the Rust enums serialise to (ui/bindings/), listed here independently.
/** @type {import('../www/js/types.js').SiteLink[]} */
const LINKS = ['unknown', 'online', 'offline', 'lost'];

/**
 * Every value has its own words in both languages.
 * @param {(string | null)[]} values
 * @param {(v: any) => import('../www/js/labels.js').Label} label
 */
function distinctWords(values, label) {
  for (const lang of /** @type {const} */ (['en', 'ja'])) {
    const words = values.map((v) => translate(lang, label(v).key));
    assert.equal(new Set(words).size, values.length, `${lang}: ${words.join(' / ')}`);
  }
}

test('link states have distinct labels', () => {
  distinctWords(LINKS, linkLabel);
  assert.equal(translate('en', linkLabel('lost').key), 'Link lost');
  assert.equal(translate('ja', linkLabel('online').key), 'オンライン');
});

test('link tones: online is fine, offline and lost are alarms, unknown is neutral', () => {
  assert.equal(linkLabel('online').tone, 'ok');
  assert.equal(linkLabel('offline').tone, 'alarm');
  assert.equal(linkLabel('lost').tone, 'alarm');
  assert.equal(linkLabel('unknown').tone, 'neutral');
});

test('a link value from a newer core falls back to unknown', () => {
  assert.deepEqual(linkLabel(/** @type {any} */ ('degraded')), linkLabel('unknown'));
});

test('arming, camera health and output states have distinct labels, null included', () => {
  distinctWords(['disarmed', 'armed', 'partial', null], armLabel);
  distinctWords(['ok', 'fault', 'offline', null], healthLabel);
  distinctWords(['on', 'off', 'locked', 'unlocked', null], outputLabel);
  assert.equal(translate('en', armLabel(null).key), 'Arming unknown');
  assert.equal(translate('en', outputLabel(null).key), 'Unknown');
});

test('output kinds have names', () => {
  /** @type {import('../www/js/types.js').OutputKind[]} */
  const kinds = ['siren', 'light', 'lock', 'relay'];
  assert.deepEqual(kinds.map((k) => translate('en', kindLabel(k))), ['Siren', 'Light', 'Lock', 'Relay']);
  assert.deepEqual(kinds.map((k) => translate('ja', kindLabel(k))), ['サイレン', '照明', '電気錠', 'リレー']);
});

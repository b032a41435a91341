import { test } from 'node:test';
import assert from 'node:assert/strict';
import { en, ja } from '../www/js/messages.js';
import { chooseLanguage, detectLanguage, translate } from '../www/js/i18n.js';

/** @param {import('../www/js/messages.js').Message} m */
const forms = (m) => (typeof m === 'string' ? [m] : Object.values(m));
/** @param {import('../www/js/messages.js').Message} m */
const placeholders = (m) => new Set(forms(m).flatMap((s) => [...s.matchAll(/\{(\w+)\}/g)].map((x) => x[1])).sort());

test('both languages have exactly the same keys', () => {
  assert.deepEqual(Object.keys(ja).sort(), Object.keys(en).sort());
});

test('every message is non-empty and uses the same placeholders in both languages', () => {
  for (const key of /** @type {(keyof typeof en)[]} */ (Object.keys(en))) {
    for (const table of [en, ja]) {
      for (const form of forms(table[key])) assert.ok(form.trim().length > 0, `${key} is empty`);
    }
    assert.deepEqual([...placeholders(ja[key])], [...placeholders(en[key])], `placeholders of ${key}`);
  }
});

test('the Japanese table is really Japanese', () => {
  // Guards against a copy-paste of the English table: most entries must differ.
  const keys = /** @type {(keyof typeof en)[]} */ (Object.keys(en));
  const same = keys.filter((k) => JSON.stringify(en[k]) === JSON.stringify(ja[k]));
  assert.ok(same.length < keys.length / 10, `identical: ${same.join(', ')}`);
});

test('placeholders are filled in', () => {
  assert.equal(translate('en', 'conn.reconnecting', { attempt: 3, time: '14:05' }), 'Reconnecting (attempt 3) · offline since 14:05');
  assert.equal(translate('ja', 'conn.reconnecting', { attempt: 3, time: '14:05' }), '再接続中（3 回目）・14:05 からオフライン');
  assert.equal(translate('en', 'output.by', { user: 'sato' }), 'by sato');
});

test('a missing parameter stays visible instead of vanishing', () => {
  assert.equal(translate('en', 'output.by'), 'by {user}');
});

test('counts choose the plural form', () => {
  assert.equal(translate('en', 'sites.cameras', { count: 1 }), '1 camera');
  assert.equal(translate('en', 'sites.cameras', { count: 0 }), '0 cameras');
  assert.equal(translate('en', 'sites.cameras', { count: 12 }), '12 cameras');
  assert.equal(translate('ja', 'sites.cameras', { count: 1 }), 'カメラ 1 台');
  assert.equal(translate('ja', 'sites.cameras', { count: 12 }), 'カメラ 12 台');
});

test('a parameter value is inserted literally, not re-interpreted', () => {
  assert.equal(translate('en', 'output.by', { user: '{time} $& <b>' }), 'by {time} $& <b>');
});

test('the system language picks Japanese only for ja tags', () => {
  for (const tag of ['ja', 'ja-JP', 'JA-jp', 'ja_JP']) assert.equal(detectLanguage(tag), 'ja', tag);
  // "jv" is Javanese and "jam" Jamaican Creole: a prefix match on "ja" alone would be wrong.
  for (const tag of ['en-US', 'en', 'fr-FR', 'jv', 'jam', '', null, undefined]) assert.equal(detectLanguage(tag), 'en', String(tag));
});

test('a remembered choice wins over the system language', () => {
  assert.equal(chooseLanguage('en', 'ja-JP'), 'en');
  assert.equal(chooseLanguage('ja', 'en-US'), 'ja');
  assert.equal(chooseLanguage(null, 'ja-JP'), 'ja');
  assert.equal(chooseLanguage('klingon', 'ja-JP'), 'ja');
});

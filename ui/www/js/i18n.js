// Translation: picks Japanese or English, interpolates `{name}` placeholders and chooses
// plural forms. The pure functions (`detectLanguage`, `chooseLanguage`, `translate`) are
// what the tests exercise; `t` and `setLanguage` add the current language, its
// persistence and `<html lang>`.

import { en, ja } from './messages.js';
import { readPref, writePref } from './prefs.js';

/** @typedef {'ja' | 'en'} Lang */
/** @typedef {keyof typeof en} MessageKey */
/** @typedef {Record<string, string | number>} Params */

/** @type {Record<Lang, Record<MessageKey, import('./messages.js').Message>>} */
const TABLES = { en, ja };

/** @type {readonly Lang[]} */
export const LANGS = ['ja', 'en'];

/**
 * The language for a BCP 47 tag such as `navigator.language`: any `ja…` is Japanese,
 * everything else English.
 * @param {string | null | undefined} tag
 * @returns {Lang}
 */
export function detectLanguage(tag) {
  return typeof tag === 'string' && /^ja(?:$|[-_])/i.test(tag) ? 'ja' : 'en';
}

/**
 * A remembered choice wins over the system language; anything unrecognised is ignored.
 * @param {string | null} stored
 * @param {string | null | undefined} systemTag
 * @returns {Lang}
 */
export function chooseLanguage(stored, systemTag) {
  return stored === 'ja' || stored === 'en' ? stored : detectLanguage(systemTag);
}

/**
 * @param {Lang} lang
 * @param {MessageKey} key
 * @param {Params} [params]
 * @returns {string}
 */
export function translate(lang, key, params = {}) {
  const message = TABLES[lang][key] ?? en[key] ?? key;
  let text;
  if (typeof message === 'string') {
    text = message;
  } else {
    const count = Number(params.count ?? 0);
    const category = new Intl.PluralRules(lang).select(count);
    text = (category === 'one' ? message.one : undefined) ?? message.other;
  }
  // An unknown placeholder is left visible rather than silently dropped, so it gets noticed.
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** @type {Lang} */
let current = chooseLanguage(readPref('lang'), globalThis.navigator?.language);

/** @returns {Lang} */
export function language() {
  return current;
}

/**
 * Translates into the current language.
 * @param {MessageKey} key
 * @param {Params} [params]
 */
export function t(key, params) {
  return translate(current, key, params);
}

/** Keeps `<html lang>` right, so screen readers and CJK font selection follow the choice. */
export function applyLanguage() {
  if (globalThis.document) document.documentElement.lang = current;
}

/**
 * Switches and remembers the language. The caller re-renders.
 * @param {Lang} lang
 */
export function setLanguage(lang) {
  current = lang;
  writePref('lang', lang);
  applyLanguage();
}

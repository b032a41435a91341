// Dark (the default: control rooms and night shifts) or light, remembered across starts.
// styles.css keys every colour off `<html data-theme>`.

import { readPref, writePref } from './prefs.js';

/** @typedef {'dark' | 'light'} Theme */

/** @type {readonly Theme[]} */
export const THEMES = ['dark', 'light'];

/** @returns {Theme} */
export function storedTheme() {
  return readPref('theme') === 'light' ? 'light' : 'dark';
}

/** @param {Theme} theme */
export function applyTheme(theme) {
  if (!globalThis.document) return;
  document.documentElement.dataset.theme = theme;
}

/** @param {Theme} theme */
export function setTheme(theme) {
  writePref('theme', theme);
  applyTheme(theme);
}

// The user's display preferences (language, theme), kept in localStorage. Storage can be
// missing (Node tests) or throw (a locked-down web view); a preference is then simply not
// remembered, which must never stop the app from starting.

const PREFIX = 'mimamori.';

/**
 * @param {string} key
 * @returns {string | null}
 */
export function readPref(key) {
  try {
    return globalThis.localStorage?.getItem(PREFIX + key) ?? null;
  } catch {
    return null;
  }
}

/**
 * @param {string} key
 * @param {string} value
 */
export function writePref(key, value) {
  try {
    globalThis.localStorage?.setItem(PREFIX + key, value);
  } catch {
    // Not remembered; see the module comment.
  }
}

// The pure part of enrolling this device: what the form sends, when it may be sent, and
// what an enrolment error means in the user's words. The core checks the code and the PIN
// (docs/enrolment.md); the form only trims them and never keeps them (views/enrol-form.js).

/**
 * @typedef {import('./types.js').IpcError} IpcError
 * @typedef {import('./types.js').ErrorKind} ErrorKind
 * @typedef {import('./types.js').AppInfo} AppInfo
 * @typedef {import('./i18n.js').MessageKey} MessageKey
 * @typedef {import('./connection.js').Translate} Translate
 */

/**
 * The code (or `mimamori://enroll?code=…` link) as sent: without the white space that
 * copying and pasting add around it.
 * @param {string} text
 */
export const cleanCode = (text) => text.trim();

/**
 * The PIN as sent: trimmed. Case and separators are the core's to normalise.
 * @param {string} text
 */
export const cleanPin = (text) => text.trim();

/**
 * Whether the form may be submitted: both fields filled, and no enrolment running.
 * @param {string} code
 * @param {string} pin
 * @param {boolean} busy
 */
export function canSubmit(code, pin, busy) {
  return !busy && cleanCode(code) !== '' && cleanPin(pin) !== '';
}

/**
 * The device runs for real (not the demo) and no profile is in use: the Sites tab
 * welcomes the user with the enrolment form. Unknown (null) until `app_info` answers.
 * @param {AppInfo | null} info
 */
export function needsEnrolment(info) {
  return info !== null && !info.demo && info.connections.length === 0;
}

/**
 * What each error of `enrol` means. The core's message says which case it is (e.g. that
 * the code expired, or how to unlock the keychain) and is shown after it.
 * @type {Record<ErrorKind, MessageKey>}
 */
const MEANING = {
  InvalidInput: 'enrol.error.InvalidInput',
  Unauthenticated: 'enrol.error.Unauthenticated',
  PermissionDenied: 'enrol.error.PermissionDenied',
  Unavailable: 'enrol.error.Unavailable',
  Timeout: 'enrol.error.Timeout',
  NotFound: 'enrol.error.Internal',
  Internal: 'enrol.error.Internal',
};

/**
 * @param {ErrorKind} kind
 * @returns {MessageKey}
 */
export const enrolErrorKey = (kind) => MEANING[kind] ?? MEANING.Internal;

/**
 * The error line of the form in two parts: the meaning of the kind, then the core's
 * message in brackets (empty when there is none).
 * @param {IpcError} error
 * @param {Translate} t
 */
export function enrolErrorParts(error, t) {
  const message = error.message.trim();
  return { what: t(enrolErrorKey(error.kind)), detail: message === '' ? '' : t('enrol.errorDetail', { message }) };
}

/**
 * The error line as one text, as the page shows (and announces) it.
 * @param {IpcError} error
 * @param {Translate} t
 */
export function enrolErrorText(error, t) {
  const { what, detail } = enrolErrorParts(error, t);
  return what + detail;
}

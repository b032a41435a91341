// Commands from the UI: which controls an output or the site offers (from what the core
// says the user may do), which of them need a deliberate second tap, and how an outcome
// reads. The core checks permissions again, writes the audit log and sends; nothing here
// decides who may do what.

/**
 * @typedef {import('./types.js').OutputKind} OutputKind
 * @typedef {import('./types.js').Outcome} Outcome
 * @typedef {import('./types.js').IpcError} IpcError
 * @typedef {{ key: string, busy: boolean, outcome: Outcome | null, error: IpcError | null }} Sending
 */

/** How long a first tap on a guarded control waits for the confirming one (ms): long
 * enough to type the app PIN. */
export const CONFIRM_WINDOW = 30000;

/**
 * The key of one control, to find it again (confirming, sending).
 * @param {string} siteId
 * @param {string | null} outputId null for the site's arming
 * @param {string} action
 */
export const controlKey = (siteId, outputId, action) => `${siteId}/${outputId ?? '*'}/${action}`;

/**
 * Whether an action lowers protection (unlock, disarm, silence), as the core says in the
 * site's controls: it then needs a confirming step and the app PIN.
 * @param {import('./types.js').SiteControls | null} controls
 * @param {string | null} outputId null for the site's arming
 * @param {string} action
 */
export function guarded(controls, outputId, action) {
  if (controls === null) return false;
  const list = outputId === null ? controls.armingGuarded : controls.outputs.find((o) => o.id === outputId)?.guarded;
  return list?.includes(action) ?? false;
}

/**
 * The words of a control button.
 * @param {OutputKind | null} kind
 * @param {string} action
 * @returns {import('./i18n.js').MessageKey}
 */
export function actionLabel(kind, action) {
  if (kind === 'siren') return action === 'on' ? 'control.sound' : 'control.silence';
  if (kind === null) return action === 'arm' ? 'control.arm' : action === 'arm_partial' ? 'control.armPartial' : 'control.disarm';
  switch (action) {
    case 'on':
      return 'control.on';
    case 'off':
      return 'control.off';
    case 'lock':
      return 'control.lock';
    default:
      return 'control.unlock';
  }
}

/**
 * What an outcome says, as a message key and its tone.
 * @param {Outcome} outcome
 * @returns {{ key: import('./i18n.js').MessageKey, tone: import('./labels.js').Tone }}
 */
export function outcomeLabel(outcome) {
  switch (outcome.outcome) {
    case 'done':
      return { key: 'control.done', tone: 'ok' };
    case 'denied':
      return { key: outcome.by === 'broker' ? 'control.deniedBroker' : 'control.deniedSite', tone: 'alarm' };
    case 'failed':
      return { key: 'control.failed', tone: 'alarm' };
    case 'expired':
      return { key: 'control.expired', tone: 'warn' };
    case 'unconfirmed':
      return { key: 'control.unconfirmed', tone: 'warn' };
  }
}

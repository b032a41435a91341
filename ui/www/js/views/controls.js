// The controls of one output or of a site's arming: the actions the core allows this user,
// the confirming step (with the app PIN) for those that lower protection, and the last
// command's progress or outcome. Shared by the site page and the full-screen camera view.

import { t } from '../i18n.js';
import { h } from '../dom.js';
import { actionLabel, controlKey, guarded, outcomeLabel } from '../control.js';

/**
 * @typedef {import('../store.js').State} State
 * @typedef {import('../actions.js').Actions} Actions
 */

/**
 * The buttons of one control target: the actions the core allows, a guarded one asking
 * for a confirming second tap, the last command's progress or outcome beneath.
 * @param {State} state
 * @param {string} siteId
 * @param {string | null} outputId
 * @param {import('../types.js').OutputKind | null} kind
 * @param {string[]} allowed
 * @param {Actions} actions
 */
export function controlButtons(state, siteId, outputId, kind, allowed, actions) {
  if (allowed.length === 0) return null;
  const buttons = allowed.map((action) => {
    const key = controlKey(siteId, outputId, action);
    const confirming = state.confirming === key;
    const busy = state.sending?.busy === true && state.sending.key === key;
    return h('button', {
      class: `control${guarded(state.controls, outputId, action) ? ' guarded' : ''}${confirming ? ' confirming' : ''}`,
      testid: 'control',
      data: { action, outputId: outputId ?? '', confirming: String(confirming) },
      attrs: { type: 'button', disabled: state.sending?.busy === true, 'aria-busy': busy ? 'true' : false },
      text: confirming ? `${t(actionLabel(kind, action))} — ${t('control.confirm')}` : t(actionLabel(kind, action)),
      on: { click: () => void actions.command(siteId, outputId, action) },
    });
  });
  const sending = state.sending !== null && allowed.some((a) => state.sending?.key === controlKey(siteId, outputId, a)) ? state.sending : null;
  let result = null;
  if (sending?.busy) result = h('span', { class: 'muted', text: t('control.sending') });
  else if (sending?.outcome) {
    const label = outcomeLabel(sending.outcome);
    const detail = 'message' in sending.outcome && sending.outcome.message ? ` (${sending.outcome.message})` : '';
    result = h('span', { class: `state tone-${label.tone}`, text: t(label.key) + detail });
  } else if (sending?.error) result = h('span', { class: 'state tone-alarm', text: sending.error.message });
  const confirming = allowed.find((a) => state.confirming === controlKey(siteId, outputId, a));
  return h('div', { class: 'controls' },
    h('div', { class: 'control-buttons' }, buttons),
    confirming ? confirmStep(state, siteId, outputId, kind, confirming, actions) : null,
    result ? h('p', { class: 'control-result', testid: 'control-result', attrs: { role: 'status' } }, result) : null);
}

/** The PIN field outlives re-renders (a status update must not wipe what is typed). */
const pinInput = /** @type {HTMLInputElement} */ (h('input', {
  class: 'pin-input',
  testid: 'control-pin',
  attrs: { type: 'password', inputmode: 'numeric', autocomplete: 'off', maxlength: '12', pattern: '[0-9]*' },
}));

/**
 * The confirming step of a command that lowers protection: the app PIN (chosen now on
 * first use) unless it was given in the last two minutes, and a deliberate confirm.
 * @param {State} state
 * @param {string} siteId
 * @param {string | null} outputId
 * @param {import('../types.js').OutputKind | null} kind
 * @param {string} action
 * @param {Actions} actions
 */
function confirmStep(state, siteId, outputId, kind, action, actions) {
  const askPin = state.pin !== null && state.pin.available && !state.pin.fresh;
  const submit = () => {
    const pin = pinInput.value;
    pinInput.value = '';
    void actions.command(siteId, outputId, action, pin);
  };
  return h('form', {
    class: 'confirm-step',
    testid: 'confirm-step',
    on: { submit: (/** @type {Event} */ e) => { e.preventDefault(); submit(); } },
  },
  askPin ? h('label', { class: 'pin-label' }, h('span', { text: t(state.pin?.set ? 'control.pin' : 'control.pinChoose') }), pinInput) : null,
  h('button', {
    class: 'control confirming',
    testid: 'control-confirm',
    attrs: { type: 'submit', disabled: state.pin === null || state.sending?.busy === true },
    text: t('control.confirmAction', { action: t(actionLabel(kind, action)) }),
  }));
}


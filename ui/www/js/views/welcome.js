// The Sites tab of a device that is not enrolled yet (and is not the demo): instead of an
// empty list, a welcome that says so and the enrolment form.

import { t } from '../i18n.js';
import { h } from '../dom.js';
import { needsEnrolment } from '../enrolment.js';
import { enrolResult } from './enrol-form.js';

/**
 * @typedef {import('../store.js').State} State
 * @typedef {import('../actions.js').Actions} Actions
 */

/**
 * What the welcome region depends on (the form updates itself).
 * @param {State} state
 */
export function welcomeDeps(state) {
  return [needsEnrolment(state.info), state.tab === 'sites', state.enrolment.result, state.lang];
}

/**
 * @param {State} state
 * @param {HTMLFormElement} form the one enrolment form, placed here while this shows
 * @param {Actions} actions
 */
export function welcome(state, form, actions) {
  if (!needsEnrolment(state.info) || state.tab !== 'sites') return [];
  const result = state.enrolment.result;
  return h('div', { class: 'welcome', testid: 'enrol-welcome' },
    h('span', { class: 'empty-icon tab-icon-sites', attrs: { 'aria-hidden': 'true' } }),
    h('h2', { class: 'welcome-title', text: t('enrol.welcome') }),
    h('p', { class: 'muted welcome-body', text: t('enrol.welcomeBody') }),
    result ? enrolResult(result, actions) : null,
    form);
}

// Settings → Enrolment: the profiles this device is enrolled for (label, user, sites with
// roles), each with a Remove that asks first — removing deletes the credentials from the
// keychain — and the enrolment form to add sites with another code. The demo needs no
// enrolment: it says so instead of offering the form.

import { t } from '../i18n.js';
import { h } from '../dom.js';
import { connectionBar } from '../connection.js';
import { formatDate } from '../time.js';
import { errorText } from './error.js';
import { enrolResult, siteRoles } from './enrol-form.js';

/**
 * @typedef {import('../store.js').State} State
 * @typedef {import('../store.js').Removal} Removal
 * @typedef {import('../actions.js').Actions} Actions
 * @typedef {import('../types.js').ProfileSummary} ProfileSummary
 * @typedef {import('../types.js').ProfileConnection} ProfileConnection
 */

/**
 * What the section depends on (the form updates itself).
 * @param {State} state
 */
export function enrolmentSectionDeps(state) {
  return [state.info, state.profiles, state.profilesError, state.removal, state.enrolment.result, state.tab === 'settings', state.lang];
}

/**
 * @param {State} state
 * @param {HTMLFormElement} form the one enrolment form, placed here while Settings shows
 * @param {Actions} actions
 */
export function enrolmentSection(state, form, actions) {
  const { info, profiles, profilesError, removal } = state;
  const shown = state.tab === 'settings';
  /** @type {(Node | null)[]} */
  const body = [];
  if (profilesError) body.push(errorText(t('enrol.title'), profilesError));
  if (profiles === null) {
    if (!profilesError) body.push(h('p', { class: 'muted', text: t('profiles.loading') }));
  } else if (profiles.length === 0) {
    // The demo runs without a profile: its note below says all there is to say.
    if (!info?.demo) body.push(h('p', { class: 'muted', testid: 'profiles-empty', text: t('profiles.none') }));
  } else {
    body.push(h('ul', { class: 'profiles' }, profiles.map((p) => profileRow(p, info?.connections.find((c) => c.profileId === p.id) ?? null, removal, actions))));
  }
  if (info?.demo) {
    body.push(h('p', { class: 'demo-note', testid: 'enrol-demo-note', text: t('enrol.demo') }));
  } else if (info !== null && shown) {
    body.push(
      state.enrolment.result ? enrolResult(state.enrolment.result, actions) : null,
      h('h4', { class: 'subsection-title', text: profiles?.length ? t('enrol.another') : t('enrol.submit') }),
      form,
    );
  }
  return h('section', { class: 'setting', testid: 'enrol-section' },
    h('h3', { class: 'section-title', testid: 'enrol-section-title', text: t('enrol.title'), attrs: { tabindex: '-1' } }),
    body);
}

/**
 * @param {ProfileSummary} profile
 * @param {ProfileConnection | null} connection its connection, when it is in use
 * @param {Removal | null} removal
 * @param {Actions} actions
 */
function profileRow(profile, connection, removal, actions) {
  const asked = removal?.profileId === profile.id ? removal : null;
  const data = { profileId: profile.id };
  // Each account's own connection: with several, the bar at the top shows the worst, and
  // this says which account it is (e.g. the one the server no longer accepts).
  const bar = connection ? connectionBar(connection.status, t) : null;
  return h('li', { class: 'profile-row', testid: 'profile-row', data },
    h('p', { class: 'profile-head' },
      h('span', { class: 'profile-label', text: profile.label }),
      bar ? h('span', { class: `tag tone-${bar.tone}`, testid: 'profile-connection', data: { phase: bar.phase }, text: bar.text }) : null),
    h('dl', { class: 'facts' },
      h('dt', { text: t('profiles.user') }), h('dd', { class: 'profile-user', text: profile.user }),
      h('dt', { text: t('profiles.enrolledAt') }), h('dd', { text: formatDate(profile.enrolledMs) }),
      h('dt', { text: t('profiles.sites') }), h('dd', {}, siteRoles(profile))),
    asked
      ? h('div', { class: 'confirm', attrs: { role: 'group', 'aria-labelledby': `remove-ask-${profile.id}` } },
          h('p', { text: t('profiles.removeAsk', { label: profile.label }), attrs: { id: `remove-ask-${profile.id}` } }),
          asked.error ? errorText(t('profiles.remove'), asked.error) : null,
          h('div', { class: 'form-actions' },
            h('button', {
              class: 'button button-danger',
              testid: 'profile-remove-confirm',
              data,
              text: asked.busy ? t('profiles.removing') : t('profiles.removeConfirm'),
              attrs: { type: 'button', disabled: asked.busy, 'aria-busy': String(asked.busy) },
              on: { click: () => void actions.removeProfile(profile.id) },
            }),
            h('button', {
              class: 'button',
              testid: 'profile-remove-cancel',
              data,
              text: t('profiles.removeCancel'),
              attrs: { type: 'button', disabled: asked.busy },
              on: { click: () => actions.cancelRemoveProfile() },
            })))
      : h('div', { class: 'form-actions' },
          h('button', {
            class: 'button',
            testid: 'profile-remove',
            data,
            text: t('profiles.remove'),
            attrs: { type: 'button', disabled: removal?.busy ?? false },
            on: { click: () => actions.askRemoveProfile(profile.id) },
          })));
}

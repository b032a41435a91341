// The enrolment form: the code (or its link), the PIN, a submit button and an error line.
// There is one form, built once and updated in place (like the connection bar), which the
// Sites tab (before enrolment) and Settings place where they show it; so what the user
// typed survives re-renders, and only one `enrol-form` is ever in the page. The code and
// the PIN stay in the inputs only: they never enter the store, and both inputs are
// emptied when the answer comes, whether it worked or not.
//
// Also here: what an enrolment gave (label, and each site with the role in it).

import { t } from '../i18n.js';
import { h } from '../dom.js';
import { canSubmit, cleanCode, cleanPin, enrolErrorParts } from '../enrolment.js';
import { roleLabel } from '../roles.js';

/**
 * @typedef {import('../store.js').State} State
 * @typedef {import('../actions.js').Actions} Actions
 * @typedef {import('../types.js').ProfileSummary} ProfileSummary
 * @typedef {import('../types.js').Role} Role
 */

/** @param {Actions} actions */
export function createEnrolForm(actions) {
  const codeLabel = h('label', { class: 'field-label', attrs: { for: 'enrol-code' } });
  const codeHint = h('p', { class: 'field-hint muted', attrs: { id: 'enrol-code-hint' } });
  const code = h('textarea', {
    class: 'field-input enrol-code',
    testid: 'enrol-code',
    attrs: {
      id: 'enrol-code',
      rows: 4,
      autocomplete: 'off',
      autocapitalize: 'off',
      autocorrect: 'off',
      spellcheck: 'false',
      'aria-describedby': 'enrol-code-hint',
    },
  });
  const pinLabel = h('label', { class: 'field-label', attrs: { for: 'enrol-pin' } });
  const pinHint = h('p', { class: 'field-hint muted', attrs: { id: 'enrol-pin-hint' } });
  const pin = h('input', {
    class: 'field-input enrol-pin',
    testid: 'enrol-pin',
    attrs: {
      id: 'enrol-pin',
      type: 'text',
      // Letters and digits: the full keyboard, in capitals where the keyboard can.
      inputmode: 'text',
      autocapitalize: 'characters',
      autocomplete: 'one-time-code',
      autocorrect: 'off',
      spellcheck: 'false',
      maxlength: 64,
      enterkeyhint: 'go',
      'aria-describedby': 'enrol-pin-hint',
    },
  });
  // A code may also come as a file (saved from e-mail): read it into the code field. The
  // web view reads only the file the user picked; no file-system access is granted.
  const fileLabel = h('label', { class: 'button enrol-file', attrs: { for: 'enrol-file' } });
  const file = h('input', {
    class: 'visually-hidden',
    testid: 'enrol-file',
    attrs: { id: 'enrol-file', type: 'file', accept: '.txt,.mmr,text/plain' },
  });
  file.addEventListener('change', () => {
    const picked = file.files?.[0];
    file.value = '';
    // A code is at most 16 KiB of text; anything larger is not one.
    if (!picked || picked.size > 32 * 1024) return;
    void picked.text().then((text) => {
      code.value = text.trim();
      refreshSubmit();
    });
  });
  const busyMark = h('span', { class: 'spinner', attrs: { 'aria-hidden': 'true' } });
  const submitText = h('span');
  const submit = h('button', { class: 'button button-primary', testid: 'enrol-submit', attrs: { type: 'submit' } }, busyMark, submitText);
  // Always in the page (empty when there is nothing to say), so that assistive technology
  // announces the text as soon as it is set.
  const error = h('p', { class: 'enrol-error', testid: 'enrol-error', attrs: { role: 'alert' } });

  let busy = false;
  // A submission is out and its inputs still hold what was sent: emptied with its answer.
  let sent = false;

  const refreshSubmit = () => {
    submit.disabled = !canSubmit(code.value, pin.value, busy);
  };
  code.addEventListener('input', refreshSubmit);
  pin.addEventListener('input', refreshSubmit);

  const el = h('form', {
    class: 'enrol-form',
    testid: 'enrol-form',
    attrs: { novalidate: true },
    on: {
      submit: (e) => {
        e.preventDefault();
        if (!canSubmit(code.value, pin.value, busy)) return;
        sent = true;
        submit.disabled = true;
        void actions.enrol(cleanCode(code.value), cleanPin(pin.value));
      },
    },
  },
  h('div', { class: 'field' }, codeLabel, code, codeHint, h('div', { class: 'form-actions' }, fileLabel, file)),
  h('div', { class: 'field' }, pinLabel, pin, pinHint),
  h('div', { class: 'form-actions' }, submit),
  error);

  /** @type {unknown[]} */
  let last = [];
  /** @param {State} state */
  function update(state) {
    const deps = [state.enrolment, state.lang];
    if (deps.every((v, i) => Object.is(v, last[i]))) return;
    last = deps;
    busy = state.enrolment.busy;
    if (sent && !busy) {
      sent = false;
      code.value = '';
      pin.value = '';
    }
    // Read-only rather than disabled while busy, so focus stays where it was.
    code.readOnly = busy;
    pin.readOnly = busy;
    el.setAttribute('aria-busy', String(busy));
    busyMark.hidden = !busy;
    codeLabel.textContent = t('enrol.code');
    codeHint.textContent = t('enrol.codeHint');
    fileLabel.textContent = t('enrol.openFile');
    code.placeholder = 'MMR1.…';
    pinLabel.textContent = t('enrol.pin');
    pinHint.textContent = t('enrol.pinHint');
    pin.placeholder = 'XXXXX-XXXXX';
    submitText.textContent = busy ? t('enrol.busy') : t('enrol.submit');
    const err = state.enrolment.error;
    if (err === null) {
      error.replaceChildren();
    } else {
      const { what, detail } = enrolErrorParts(err, t);
      error.replaceChildren(h('strong', { text: what }), ...(detail === '' ? [] : [h('span', { class: 'enrol-error-detail', text: detail })]));
    }
    refreshSubmit();
  }
  return {
    el,
    update,
    /**
     * Puts a code (or its link, opened on the desktop) in the code field; the PIN is next.
     * @param {string} text
     */
    fill(text) {
      if (busy) return;
      code.value = text.trim();
      refreshSubmit();
    },
    /** The PIN field, to take focus once the form is shown. */
    pin,
  };
}

/** @typedef {ReturnType<typeof createEnrolForm>} EnrolForm */

/**
 * A role in words, as a small badge (shape-free: the word is the information).
 * @param {Role} role
 */
export function roleBadge(role) {
  return h('span', { class: 'role-badge', data: { role }, text: t(roleLabel(role)) });
}

/**
 * The sites of a profile, each with the role in it.
 * @param {ProfileSummary} profile
 */
export function siteRoles(profile) {
  return h('ul', { class: 'role-list' },
    profile.sites.map((s) => h('li', { class: 'role-item' }, h('span', { class: 'role-site', text: s.name }), roleBadge(s.role))));
}

/**
 * What an enrolment gave: its label and each site with the role in it — nothing else.
 * @param {ProfileSummary} result
 * @param {Actions} actions
 */
export function enrolResult(result, actions) {
  return h('section', { class: 'notice enrol-done', attrs: { 'aria-labelledby': 'enrol-done-title' } },
    h('h3', { class: 'notice-title', testid: 'enrol-done-title', text: t('enrol.done'), attrs: { id: 'enrol-done-title', tabindex: '-1' } }),
    h('div', { testid: 'enrol-result' },
      h('p', { class: 'enrol-label', text: result.label }),
      siteRoles(result)),
    h('div', { class: 'form-actions' },
      h('button', {
        class: 'button',
        testid: 'enrol-dismiss',
        text: t('enrol.dismiss'),
        attrs: { type: 'button' },
        on: { click: () => actions.dismissEnrolment() },
      })));
}

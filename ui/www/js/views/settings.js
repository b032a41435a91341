// Settings: language and theme (kept on this device), the saved clips, the enrolments
// (views/profiles.js), and what the app is — its version, whether it is the demo, and how
// many site messages arrived or were refused.

import { t } from '../i18n.js';
import { h } from '../dom.js';
import { formatClock } from '../time.js';

/**
 * @typedef {import('../store.js').State} State
 * @typedef {import('../actions.js').Actions} Actions
 */

/**
 * A group of buttons of which exactly one is pressed.
 * @param {string} label
 * @param {{ testid: string, text: string, lang?: string, pressed: boolean, choose: () => void }[]} options
 */
function choice(label, options) {
  return h('section', { class: 'setting' },
    h('h3', { class: 'section-title', text: label }),
    h('div', { class: 'choice', attrs: { role: 'group', 'aria-label': label } },
      options.map((o) => h('button', {
        class: 'choice-option',
        testid: o.testid,
        text: o.text,
        attrs: { type: 'button', 'aria-pressed': String(o.pressed), lang: o.lang ?? false },
        on: { click: o.choose },
      }))));
}

/**
 * @param {[string, string | number][]} rows
 */
function facts(rows) {
  return h('dl', { class: 'facts' }, rows.flatMap(([term, value]) => [h('dt', { text: term }), h('dd', { text: String(value) })]));
}

/**
 * The top of Settings: language and theme. The saved clips, the Enrolment section
 * (views/profiles.js), then `about` follow; each is its own region, so the bus counters that tick while
 * Settings is shown do not rebuild the enrolment form.
 * @param {State} state
 * @param {Actions} actions
 */
export function settings(state, actions) {
  return [
    h('h2', { class: 'panel-title', text: t('settings.title') }),
    // Each language is named in itself, so a user who cannot read the current one finds theirs.
    choice(t('settings.language'), [
      { testid: 'lang-ja', text: '日本語', lang: 'ja', pressed: state.lang === 'ja', choose: () => actions.setLanguage('ja') },
      { testid: 'lang-en', text: 'English', lang: 'en', pressed: state.lang === 'en', choose: () => actions.setLanguage('en') },
    ]),
    choice(t('settings.theme'), [
      { testid: 'theme-dark', text: t('settings.dark'), pressed: state.theme === 'dark', choose: () => actions.setTheme('dark') },
      { testid: 'theme-light', text: t('settings.light'), pressed: state.theme === 'light', choose: () => actions.setTheme('light') },
    ]),
    background(state, actions),
    quiet(state, actions),
  ].filter((n) => n !== null);
}

/** @param {number} minute of the day @returns {string} "HH:MM" */
const hhmm = (minute) => `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`;

/**
 * Quiet hours: between two times of the local day only critical alerts (intrusion,
 * fire, panic) are notified; the rest wait in the inbox.
 * @param {State} state
 * @param {Actions} actions
 */
function quiet(state, actions) {
  const q = state.quiet;
  if (q === null) return null;
  const on = q.set !== null;
  const from = h('input', { testid: 'quiet-from', attrs: { type: 'time', value: hhmm(q.set?.fromMinute ?? 22 * 60), disabled: !on, 'aria-label': t('settings.quietFrom') } });
  const to = h('input', { testid: 'quiet-to', attrs: { type: 'time', value: hhmm(q.set?.toMinute ?? 6 * 60), disabled: !on, 'aria-label': t('settings.quietTo') } });
  const value = (/** @type {HTMLElement} */ el) => /** @type {HTMLInputElement} */ (el).value;
  const apply = () => void actions.setQuietHours({ from: value(from), to: value(to) });
  from.addEventListener('change', apply);
  to.addEventListener('change', apply);
  return h('section', { class: 'setting', testid: 'quiet-hours' },
    h('h3', { class: 'section-title', text: t('settings.quiet') }),
    h('p', { class: 'muted', text: t('settings.quietHint') }),
    h('label', { class: 'check' },
      h('input', {
        testid: 'quiet-on',
        attrs: { type: 'checkbox', checked: on },
        on: { change: (e) => void actions.setQuietHours(/** @type {HTMLInputElement} */ (e.target).checked ? { from: value(from), to: value(to) } : null) },
      }),
      h('span', { text: t('settings.quietOn') })),
    h('div', { class: 'quiet-times' }, h('span', { text: t('settings.quietFrom') }), from, h('span', { text: t('settings.quietTo') }), to),
    q.error ? h('p', { class: 'state tone-alarm', attrs: { role: 'alert' }, text: q.error }) : null);
}

/**
 * Running in the background: what closing the window does, and starting at login.
 * @param {State} state
 * @param {Actions} actions
 */
function background(state, actions) {
  const b = state.background;
  if (b === null) return null;
  return h('section', { class: 'setting', testid: 'background' },
    h('h3', { class: 'section-title', text: t('settings.background') }),
    h('p', { class: 'muted', text: t(b.tray ? 'settings.trayOn' : 'settings.trayOff') }),
    b.startAtLoginAvailable
      ? h('label', { class: 'check' },
        h('input', {
          testid: 'start-at-login',
          attrs: { type: 'checkbox', checked: b.startAtLogin },
          on: { change: (e) => void actions.setStartAtLogin(/** @type {HTMLInputElement} */ (e.target).checked) },
        }),
        h('span', { text: t('settings.startAtLogin') }))
      : null);
}

/**
 * The clips saved on this device, newest first: camera, site, when, how long; each can be
 * deleted.
 * @param {State} state
 * @param {Actions} actions
 */
export function clipsSection(state, actions) {
  const clips = state.clips;
  if (clips === null) return [];
  const names = new Map((state.sites ?? []).map((s) => [s.id, s.name ?? s.id]));
  const rows = clips.map((c) => h('li', { class: 'clip-row', testid: 'clip-row', data: { clipId: c.id, durationMs: String(c.durationMs) } },
    h('span', { class: 'clip-name', text: c.cameraName || c.cameraId }),
    h('span', { class: 'muted', text: names.get(c.siteId) ?? c.siteId }),
    h('span', { class: 'muted', text: `${formatClock(c.startMs)} · ${Math.round(c.durationMs / 1000)} s · ${(c.bytes / 1e6).toFixed(1)} MB` }),
    h('button', {
      class: 'control clip-delete',
      testid: 'clip-delete',
      attrs: { type: 'button' },
      text: t('clips.delete'),
      on: { click: () => void actions.deleteClip(c.id) },
    })));
  return [h('section', { class: 'setting', testid: 'clips' },
    h('h3', { class: 'section-title', text: t('clips.title') }),
    rows.length > 0 ? h('ul', { class: 'clip-list' }, rows) : h('p', { class: 'muted', text: t('clips.empty') }),
    h('p', { class: 'muted', text: t('clips.where') }))];
}

/**
 * The audit log: whether its chain holds, and what was done here lately (commands,
 * acknowledgements, enrolments, removals), newest first.
 * @param {State} state
 */
function auditSection(state) {
  const a = state.audit;
  if (a === null) return null;
  const rows = a.records.map((r) => h('tr', { testid: 'audit-record', data: { what: r.what } },
    h('td', { text: formatClock(r.timeMs) }),
    h('td', { text: r.user }),
    h('td', { text: r.what }),
    h('td', { text: r.site }),
    h('td', { text: `${r.target} ${r.action}` }),
    h('td', { text: r.outcome }),
    h('td', { text: r.note ?? '' })));
  return h('section', { class: 'setting', testid: 'audit-log' },
    h('h3', { class: 'section-title', text: t('settings.audit') }),
    a.verified
      ? h('p', { class: 'state tone-ok', testid: 'audit-verified', text: t('settings.auditVerified', { count: a.total }) })
      : h('p', { class: 'state tone-alarm', testid: 'audit-broken', attrs: { role: 'alert' }, text: t('settings.auditBroken', { problem: a.problem ?? '' }) }),
    rows.length > 0
      ? h('div', { class: 'audit-scroll' }, h('table', { class: 'audit-table' }, h('tbody', {}, rows)))
      : null,
    h('p', { class: 'muted', text: t('settings.auditExport') }));
}

/**
 * The bottom of Settings: site messages received and refused, version, demo notice.
 * @param {State} state
 */
export function about(state) {
  const { info, stats } = state;
  return [
    h('section', { class: 'setting' },
      h('h3', { class: 'section-title', text: t('settings.bus') }),
      stats
        ? facts([
            [t('settings.received'), stats.received],
            [t('settings.rejected'), stats.rejected],
            ...(stats.lastRejection ? /** @type {[string, string][]} */ ([[t('settings.lastRejection'), stats.lastRejection]]) : []),
          ])
        : h('p', { class: 'muted', text: '…' })),
    auditSection(state),
    h('section', { class: 'setting' },
      h('h3', { class: 'section-title', text: t('settings.about') }),
      facts([[t('settings.version'), info?.version ?? '…']]),
      info?.demo ? h('p', { class: 'demo-note', testid: 'demo-note', text: t('settings.demoNote') }) : null),
  ].filter((n) => n !== null);
}

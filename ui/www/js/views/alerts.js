// The alert inbox: every site's alerts, newest first, one row each with its time, site,
// kind (in words), title, zone, the picture it came with, who acknowledged it and their
// note; an Acknowledge button where the user's role allows it. Possible gaps (events the
// sites could not replay) are listed above. Its empty state shows while there are none.
// Everything from the core enters as text (titles and notes may hold `<`, `>`, quotes).

import { t } from '../i18n.js';
import { h } from '../dom.js';
import { alertRows, filterAlerts, gapRows, unacknowledged } from '../alerts.js';
import { alertKindLabel } from '../labels.js';
import { canAcknowledge, siteRole } from '../roles.js';
import { outcomeLabel } from '../control.js';
import { api } from '../api.js';
import { errorText } from './error.js';

/**
 * @typedef {import('../store.js').State} State
 * @typedef {import('../alerts.js').AlertRow} AlertRow
 * @typedef {import('../actions.js').Actions} Actions
 */

/**
 * What the alerts region depends on.
 * @param {State} state
 */
export function alertsDeps(state) {
  return [state.alerts, state.alertsError, state.sites, state.lang, state.gaps, state.acking, state.ackSending, state.alertFilter];
}

/**
 * @param {State} state
 * @param {Actions} actions
 */
export function alerts(state, actions) {
  const title = h('h2', { class: 'panel-title', text: t('alerts.title') });
  const list = state.alerts;
  const error = state.alertsError ? errorText(t('alerts.title'), state.alertsError) : null;
  if (list === null) {
    return [title, error ?? h('p', { class: 'muted', text: t('alerts.loading') })];
  }
  if (list.length === 0) {
    return [
      title,
      error,
      h('div', { class: 'empty', testid: 'alerts-empty' },
        h('span', { class: 'empty-icon tab-icon-alerts', attrs: { 'aria-hidden': 'true' } }),
        h('p', { class: 'empty-title', text: t('alerts.empty') }),
        h('p', { class: 'muted', text: t('alerts.emptyHint') })),
    ].filter((n) => n !== null);
  }
  const open = unacknowledged(list);
  // The role the site enforces decides (the demo's sites make this device an admin).
  const mayAck = (/** @type {string} */ siteId) => canAcknowledge(siteRole(state.sites, siteId));
  const shown = filterAlerts(list, state.alertFilter);
  const rows = alertRows(shown, state.sites, { lang: state.lang, mayAck });
  const gaps = gapRows(state.gaps, state.sites, state.lang);
  return [
    title,
    h('p', { class: 'muted list-count' },
      t('alerts.count', { count: list.length }),
      open > 0 ? h('span', { class: 'attention', text: ` · ${t('alerts.unacked', { count: open })}` }) : null),
    error,
    filters(list, state, actions),
    gaps.length > 0
      ? h('div', { class: 'gaps tone-warn', testid: 'possible-gaps', attrs: { role: 'status' } },
        h('strong', { text: t('alerts.gapsTitle') }),
        h('ul', {}, gaps.map((g) => h('li', { testid: 'possible-gap', data: { siteId: g.siteId }, text: g.text }))))
      : null,
    rows.length === 0
      ? h('p', { class: 'muted', testid: 'alerts-filtered-empty', text: t('alerts.noneMatch') })
      : h('ul', { class: 'alert-list', testid: 'alert-list' }, rows.map((r) => row(r, state, actions))),
  ].filter((n) => n !== null);
}

/**
 * The inbox's filters: site, kind and state, each a plain select (keyboard and screen
 * readers know them).
 * @param {readonly import('../types.js').AlertView[]} list
 * @param {State} state
 * @param {Actions} actions
 */
function filters(list, state, actions) {
  const f = state.alertFilter;
  /**
   * @param {string} testid
   * @param {string} label
   * @param {string} value
   * @param {[string, string][]} options value, text
   * @param {(value: string) => void} change
   */
  const select = (testid, label, value, options, change) => h('label', { class: 'alert-filter' },
    h('span', { class: 'muted', text: label }),
    h('select', {
      testid,
      on: { change: (e) => change(/** @type {HTMLSelectElement} */ (e.target).value) },
    }, options.map(([v, text]) => h('option', { text, attrs: { value: v, selected: v === value } }))));
  const sites = (state.sites ?? []).map((s) => /** @type {[string, string]} */ ([s.id, s.name ?? s.id]));
  const kinds = [...new Set(list.map((a) => a.kind))].map((k) => /** @type {[string, string]} */ ([k, t(alertKindLabel(k).key)]));
  return h('div', { class: 'alert-filters', testid: 'alert-filters' },
    select('filter-site', t('alerts.filterSite'), f.site, [['', t('alerts.filterAll')], ...sites], (site) => actions.filterAlerts({ site })),
    select('filter-kind', t('alerts.filterKind'), f.kind, [['', t('alerts.filterAll')], ...kinds], (kind) => actions.filterAlerts({ kind })),
    select('filter-state', t('alerts.filterState'), f.state,
      [['all', t('alerts.filterAll')], ['open', t('alerts.filterOpen')], ['acked', t('alerts.filterAcked')]],
      (value) => actions.filterAlerts({ state: /** @type {'all' | 'open' | 'acked'} */ (value) })));
}

/** Thumbnails already fetched, by `site/alert`, as object URLs (the newest few hundred). */
/** @type {Map<string, string>} */
const pictures = new Map();
const MAX_PICTURES = 250;

/**
 * The picture an alert came with: from the cache at once, or fetched and filled in.
 * @param {string} siteId
 * @param {string} alertId
 */
function picture(siteId, alertId) {
  const key = `${siteId}/${alertId}`;
  const img = /** @type {HTMLImageElement} */ (h('img', {
    class: 'alert-picture',
    testid: 'alert-picture',
    attrs: { alt: t('alerts.pictureAlt'), width: '160', height: '88' },
  }));
  const cached = pictures.get(key);
  if (cached) {
    img.src = cached;
  } else {
    api.alertPicture(siteId, alertId).then((jpeg) => {
      const url = pictures.get(key) ?? URL.createObjectURL(new Blob([jpeg], { type: 'image/jpeg' }));
      pictures.set(key, url);
      const oldest = pictures.size > MAX_PICTURES ? pictures.keys().next().value : undefined;
      if (oldest !== undefined) {
        URL.revokeObjectURL(pictures.get(oldest) ?? '');
        pictures.delete(oldest);
      }
      img.src = url;
    }, () => {
      img.dataset.failed = 'true';
    });
  }
  return img;
}

/** The note field outlives re-renders (an arriving alert must not wipe what is typed); it
 * starts empty for each alert. */
const noteInput = /** @type {HTMLTextAreaElement} */ (h('textarea', {
  class: 'ack-note',
  testid: 'ack-note',
  attrs: { maxlength: '500', rows: '2' },
}));
let noteFor = '';

/**
 * The acknowledgement form of one alert: a note, confirm, cancel, and the outcome.
 * @param {AlertRow} r
 * @param {State} state
 * @param {Actions} actions
 */
function ackForm(r, state, actions) {
  const busy = state.ackSending?.busy === true;
  if (noteFor !== `${r.siteId}/${r.id}`) {
    noteFor = `${r.siteId}/${r.id}`;
    noteInput.value = '';
  }
  noteInput.placeholder = t('alerts.ackNote');
  noteInput.setAttribute('aria-label', t('alerts.ackNote'));
  return h('div', { class: 'ack-form', testid: 'ack-form' },
    noteInput,
    h('div', { class: 'control-buttons' },
      h('button', {
        class: 'control', testid: 'ack-send', attrs: { type: 'button', disabled: busy },
        text: t('alerts.ackSend'),
        on: { click: () => void actions.acknowledge(r.siteId, r.id, noteInput.value) },
      }),
      h('button', {
        class: 'control', testid: 'ack-cancel', attrs: { type: 'button' },
        text: t('alerts.ackCancel'),
        on: { click: () => actions.cancelAck() },
      })));
}

/**
 * The last acknowledgement's progress or outcome, under its row.
 * @param {AlertRow} r
 * @param {State} state
 */
function ackResult(r, state) {
  const s = state.ackSending;
  if (s === null || s.key !== `${r.siteId}/${r.id}`) return null;
  let text = t('control.sending');
  let tone = 'muted';
  if (s.error) {
    text = s.error.message;
    tone = 'tone-alarm';
  } else if (s.outcome?.outcome === 'done') {
    text = t('alerts.ackDone');
    tone = 'tone-ok';
  } else if (s.outcome) {
    const label = outcomeLabel(s.outcome);
    const detail = 'message' in s.outcome && s.outcome.message ? ` (${s.outcome.message})` : '';
    text = t(label.key) + detail;
    tone = `tone-${label.tone}`;
  }
  return h('p', { class: `ack-result state ${tone}`, testid: 'ack-result', attrs: { role: 'status' }, text });
}

/**
 * @param {AlertRow} r
 * @param {State} state
 * @param {Actions} actions
 */
function row(r, state, actions) {
  const acking = state.acking?.siteId === r.siteId && state.acking.alertId === r.id;
  return h(
    'li',
    {
      class: `alert-row tone-${r.tone}${r.critical ? ' alert-critical' : ''}${r.acked ? ' alert-is-acked' : ''}`,
      testid: 'alert-row',
      data: { alertId: r.id, siteId: r.siteId, kind: r.kind, picture: r.picture, acked: String(r.acked !== null) },
    },
    r.picture === 'ready' ? picture(r.siteId, r.id) : null,
    h('span', { class: 'alert-head' },
      h('span', { class: 'alert-kind', text: r.kindText }),
      h('span', { class: 'alert-time muted', text: r.time }),
      h('span', { class: 'alert-site', text: r.siteName })),
    h('span', { class: 'alert-title', text: r.title }),
    r.zone !== null ? h('span', { class: 'alert-zone muted', text: t('alerts.zone', { zone: r.zone }) }) : null,
    r.picture === 'unreadable' ? h('span', { class: 'alert-zone muted', testid: 'alert-no-picture', text: t('alerts.noPicture') }) : null,
    r.acked !== null ? h('span', { class: 'alert-acked muted', testid: 'alert-acked', text: r.acked }) : null,
    r.note !== null ? h('span', { class: 'alert-note', testid: 'alert-note', text: r.note }) : null,
    h('div', { class: 'alert-actions' },
      r.camera !== null
        ? h('button', {
          class: 'control alert-camera',
          testid: 'alert-camera',
          data: { cameraId: r.camera },
          attrs: { type: 'button' },
          text: t('alerts.openCamera'),
          on: { click: () => void actions.openAlertCamera(r.siteId, /** @type {string} */ (r.camera), r.timeMs) },
        })
        : null,
      r.mayAck && !acking
        ? h('button', {
          class: 'control alert-ack',
          testid: 'alert-ack',
          attrs: { type: 'button' },
          text: t('alerts.ack'),
          on: { click: () => actions.startAck(r.siteId, r.id) },
        })
        : null),
    acking ? ackForm(r, state, actions) : null,
    ackResult(r, state),
  );
}

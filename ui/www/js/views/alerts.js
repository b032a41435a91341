// The alert inbox: every site's alerts, newest first, one row each with its time, site,
// kind (in words), title, zone and who acknowledged it. Its empty state shows while there
// are none. Everything from the core enters as text (titles may hold `<`, `>`, quotes).

import { t } from '../i18n.js';
import { h } from '../dom.js';
import { alertRows, unacknowledged } from '../alerts.js';
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
  return [state.alerts, state.alertsError, state.sites, state.lang];
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
  const rows = alertRows(list, state.sites, { lang: state.lang });
  return [
    title,
    h('p', { class: 'muted list-count' },
      t('alerts.count', { count: list.length }),
      open > 0 ? h('span', { class: 'attention', text: ` · ${t('alerts.unacked', { count: open })}` }) : null),
    error,
    h('ul', { class: 'alert-list', testid: 'alert-list' }, rows.map((r) => row(r, actions))),
  ].filter((n) => n !== null);
}

/**
 * @param {AlertRow} r
 * @param {Actions} actions
 */
function row(r, actions) {
  return h(
    'li',
    {
      class: `alert-row tone-${r.tone}${r.critical ? ' alert-critical' : ''}${r.acked ? ' alert-is-acked' : ''}`,
      testid: 'alert-row',
      data: { alertId: r.id, siteId: r.siteId, kind: r.kind },
    },
    h('span', { class: 'alert-head' },
      h('span', { class: 'alert-kind', text: r.kindText }),
      h('span', { class: 'alert-time muted', text: r.time }),
      h('span', { class: 'alert-site', text: r.siteName })),
    h('span', { class: 'alert-title', text: r.title }),
    r.zone !== null ? h('span', { class: 'alert-zone muted', text: t('alerts.zone', { zone: r.zone }) }) : null,
    r.acked !== null ? h('span', { class: 'alert-acked muted', testid: 'alert-acked', text: r.acked }) : null,
    r.camera !== null
      ? h('button', {
        class: 'control alert-camera',
        testid: 'alert-camera',
        data: { cameraId: r.camera },
        attrs: { type: 'button' },
        text: t('alerts.openCamera'),
        on: { click: () => void actions.openAlertCamera(r.siteId, /** @type {string} */ (r.camera)) },
      })
      : null,
  );
}

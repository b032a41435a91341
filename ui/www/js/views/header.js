// The header: the app's name, the DEMO badge when running on simulated sites, and the
// tabs (Sites · Alerts · Settings) — at the bottom of the screen on phones (styles.css),
// beside the name on wider screens. The Alerts tab carries the number of alerts nobody
// has acknowledged yet, as a badge (hidden at 0) that its accessible name spells out.

import { t } from '../i18n.js';
import { h } from '../dom.js';
import { unacknowledged } from '../alerts.js';

/**
 * @typedef {import('../store.js').State} State
 * @typedef {import('../store.js').Tab} Tab
 * @typedef {import('../actions.js').Actions} Actions
 */

/** @type {readonly Tab[]} */
const TABS = ['sites', 'alerts', 'settings'];

/**
 * @param {State} state
 * @param {Actions} actions
 */
export function header(state, actions) {
  const demo = state.info?.demo
    ? h('span', { class: 'demo-badge', testid: 'demo-badge', text: t('app.demo') })
    : null;
  const open = unacknowledged(state.alerts);
  const tabs = TABS.map((tab) =>
    h(
      'button',
      {
        class: 'tab',
        testid: `tab-${tab}`,
        attrs: { type: 'button', 'aria-current': state.tab === tab ? 'page' : false },
        on: { click: () => actions.selectTab(tab) },
      },
      h('span', { class: `tab-icon tab-icon-${tab}`, attrs: { 'aria-hidden': 'true' } }),
      h('span', { class: 'tab-label', text: t(`tab.${tab}`) }),
      tab === 'alerts' ? alertsBadge(open) : null,
    ),
  );
  return [
    h('h1', { class: 'app-name' }, h('span', { text: 'Mimamori' }), h('span', { class: 'app-name-ja', text: '見守り' })),
    demo,
    h('nav', { class: 'tabs', attrs: { 'aria-label': t('nav.main') } }, tabs),
  ].filter((n) => n !== null);
}

/**
 * The count on the Alerts tab: the digits are drawn (hidden from screen readers), and a
 * visually hidden text names them, so the tab reads "Alerts, 3 unacknowledged alerts".
 * @param {number} count
 */
function alertsBadge(count) {
  return h('span', { class: 'tab-badge', testid: 'alerts-badge', data: { count: String(count) }, attrs: { hidden: count === 0 } },
    h('span', { text: count > 99 ? '99+' : String(count), attrs: { 'aria-hidden': 'true' } }),
    h('span', { class: 'visually-hidden', text: `, ${t('alerts.badge', { count })}` }));
}

// A new alert while the app is in front: its kind, site and title on one line under the
// header, with its camera one tap away. It goes by itself after a few seconds or on ×.

import { t } from '../i18n.js';
import { h } from '../dom.js';
import { alertRows } from '../alerts.js';

/**
 * @typedef {import('../store.js').State} State
 * @typedef {import('../actions.js').Actions} Actions
 */

/** @param {State} state */
export function bannerDeps(state) {
  return [state.banner, state.sites, state.lang];
}

/**
 * @param {State} state
 * @param {Actions} actions
 */
export function banner(state, actions) {
  if (state.banner === null) return [];
  const [r] = alertRows([state.banner], state.sites, { lang: state.lang });
  return h('div', {
    class: `banner tone-${r.tone}${r.critical ? ' alert-critical' : ''}`,
    testid: 'alert-banner',
    data: { alertId: r.id, siteId: r.siteId },
    attrs: { role: 'alert' },
  },
  h('span', { class: 'alert-kind', text: r.kindText }),
  h('span', { class: 'alert-site', text: r.siteName }),
  h('span', { class: 'banner-title', text: r.title }),
  r.camera !== null
    ? h('button', {
      class: 'control',
      testid: 'banner-camera',
      attrs: { type: 'button' },
      text: t('alerts.openCamera'),
      on: { click: () => {
        actions.dismissBanner();
        void actions.openAlertCamera(r.siteId, /** @type {string} */ (r.camera), r.timeMs);
      } },
    })
    : null,
  h('button', {
    class: 'banner-close',
    testid: 'banner-close',
    attrs: { type: 'button', 'aria-label': t('alerts.dismiss') },
    text: '×',
    on: { click: () => actions.dismissBanner() },
  }));
}

// The alert inbox. Alerts arrive with a later issue; until then this is its empty state.

import { t } from '../i18n.js';
import { h } from '../dom.js';

export function alerts() {
  return [
    h('h2', { class: 'panel-title', text: t('alerts.title') }),
    h('div', { class: 'empty', testid: 'alerts-empty' },
      h('span', { class: 'empty-icon tab-icon-alerts', attrs: { 'aria-hidden': 'true' } }),
      h('p', { class: 'empty-title', text: t('alerts.empty') }),
      h('p', { class: 'muted', text: t('alerts.emptyHint') })),
  ];
}

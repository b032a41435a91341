// Shown instead of the app when the page was opened outside the Tauri shell (say, in a
// browser): without the core there is nothing to show, and saying so beats a blank page.

import { t } from '../i18n.js';
import { h } from '../dom.js';

export function noApp() {
  return h('div', { class: 'empty no-app', testid: 'no-app', attrs: { role: 'alert' } },
    h('p', { class: 'empty-title', text: t('noApp.title') }),
    h('p', { class: 'muted', text: t('noApp.body') }));
}

// An IPC error as the user reads it: what failed, in words for its kind, and the core's
// message (which names ids only — never an address or a secret).

import { t } from '../i18n.js';
import { h } from '../dom.js';

/**
 * @param {string} what
 * @param {import('../types.js').IpcError} error
 */
export function errorText(what, error) {
  return h('p', { class: 'error', attrs: { role: 'alert' } },
    h('strong', { text: t('error.detail', { what, message: t(`error.${error.kind}`) }) }),
    h('span', { class: 'muted', text: ` (${error.message})` }));
}

// The thin bar at the top that always says how the connection to the sites stands. It is
// one persistent element updated in place (not rebuilt), so screen readers announce its
// changes through role="status".

import { connectionBar } from '../connection.js';
import { needsEnrolment } from '../enrolment.js';
import { t } from '../i18n.js';
import { h, mark } from '../dom.js';

/** @typedef {import('../store.js').State} State */

export function createConnectionBar() {
  const text = h('span', { class: 'connbar-text' });
  const shape = mark('conn', 'unknown', 'neutral');
  const el = h('div', { class: 'connbar', testid: 'connection-bar', attrs: { role: 'status' } }, shape, text);
  /** @type {unknown[]} */
  let last = [];
  /** @param {State} state */
  function update(state) {
    const notEnrolled = needsEnrolment(state.info);
    const deps = [state.connection, state.available, state.lang, notEnrolled];
    if (deps.every((v, i) => Object.is(v, last[i]))) return;
    last = deps;
    const bar = connectionBar(state.connection, t, { available: state.available, enrolled: !notEnrolled });
    el.dataset.phase = bar.phase;
    el.className = `connbar tone-${bar.tone}`;
    shape.className = `mark mark-conn tone-${bar.tone}`;
    shape.dataset.state = bar.phase;
    text.textContent = bar.text;
  }
  return { el, update };
}

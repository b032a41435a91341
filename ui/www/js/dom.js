// A small element builder over createElement/textContent. Text from IPC only ever enters
// the page as text nodes, never as HTML, and no inline style is set (the CSP forbids it).

/**
 * @typedef {object} Props
 * @property {string} [class]
 * @property {string} [text] textContent
 * @property {string} [testid] `data-testid`, the hook end-to-end tests rely on
 * @property {Record<string, string>} [data] other `data-*` attributes, camelCase keys
 * @property {Record<string, string | boolean | number>} [attrs] attributes; false omits one
 * @property {{ [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void }} [on]
 */

/** @typedef {Node | string | null | undefined | false} Child */

/**
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Props} [props]
 * @param {...(Child | Child[])} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.text !== undefined) el.textContent = props.text;
  if (props.testid) el.dataset.testid = props.testid;
  for (const [k, v] of Object.entries(props.data ?? {})) el.dataset[k] = v;
  for (const [k, v] of Object.entries(props.attrs ?? {})) {
    if (v !== false) el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const [type, listener] of Object.entries(props.on ?? {})) {
    el.addEventListener(type, /** @type {EventListener} */ (listener));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child);
  }
  return el;
}

/**
 * A shape that stands for a state (circle, ring, triangle, square…; see styles.css), for
 * readers who cannot tell the colours apart. Decorative: the label next to it says it.
 * @param {string} kind what the state is of: link, health, armed, output, conn
 * @param {string} state
 * @param {import('./labels.js').Tone} tone
 */
export function mark(kind, state, tone) {
  return h('span', { class: `mark mark-${kind} tone-${tone}`, data: { state }, attrs: { 'aria-hidden': 'true' } });
}

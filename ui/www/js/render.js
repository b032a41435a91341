// Re-rendering without losing the user's place. The page is split into regions; a region
// is rebuilt only when one of the state values it depends on changed (by identity), and
// the element that had focus inside it (found again by its data-testid and id) gets focus
// back, with its text selection. Each region's container is its own scroller, so
// rebuilding its children keeps the scroll position; scrolled down, the first element in
// sight stays where it was when content is added above it (WebKit has no CSS scroll
// anchoring), so a new alert does not move the row a finger is on.

/** @typedef {import('./store.js').State} State */

/**
 * @param {HTMLElement} container
 * @param {(state: State) => unknown[]} deps
 * @param {(state: State) => Node | Node[]} render
 * @returns {(state: State) => void}
 */
export function region(container, deps, render) {
  /** @type {unknown[] | null} */
  let last = null;
  return (state) => {
    const next = deps(state);
    if (last !== null && next.length === last.length && next.every((v, i) => Object.is(v, last?.[i]))) return;
    // Not under a press: the click would be lost with the node it began on. The render
    // after the press catches up.
    if (pressed !== null && container.contains(pressed)) return;
    last = next;
    const focused = focusedWithin(container);
    const anchor = anchorOf(container);
    const nodes = render(state);
    container.replaceChildren(...(Array.isArray(nodes) ? nodes : [nodes]));
    if (focused) restore(container, focused);
    if (anchor) keepInPlace(container, anchor);
  };
}

/**
 * The first identifiable element in sight in a scrolled container, and how far below the
 * container's top it is; none when the container is not scrolled (at the top, new content
 * shows).
 * @param {HTMLElement} container
 * @returns {{ key: string, offset: number } | null}
 */
function anchorOf(container) {
  if (container.scrollTop <= 0) return null;
  const top = container.getBoundingClientRect().top;
  for (const el of container.querySelectorAll('[data-testid]')) {
    if (!(el instanceof HTMLElement)) continue;
    const key = keyOf(el);
    const rect = el.getBoundingClientRect();
    if (key !== null && key.split('|')[1] !== '' && rect.bottom > top) return { key, offset: rect.top - top };
  }
  return null;
}

/**
 * Scrolls so that the anchor is as far below the top as it was.
 * @param {HTMLElement} container
 * @param {{ key: string, offset: number }} anchor
 */
function keepInPlace(container, { key, offset }) {
  for (const el of container.querySelectorAll('[data-testid]')) {
    if (el instanceof HTMLElement && keyOf(el) === key) {
      container.scrollTop += el.getBoundingClientRect().top - container.getBoundingClientRect().top - offset;
      return;
    }
  }
}

/** Where a pointer is pressed and not yet released (a tap in progress). */
let pressed = /** @type {Node | null} */ (null);
/** A press held longer than this (a long press, or a release the page never saw) no longer
 * holds back updates. */
const PRESS_HOLD_MS = 1500;

/**
 * Holds back the rebuild of a region while a pointer is pressed inside it, so that an
 * update arriving mid-tap (an alert, a status change) cannot swallow the tap; `rerender`
 * runs once the press ends, after its click.
 * @param {() => void} rerender
 */
export function holdRegionsDuringPress(rerender) {
  let timer = /** @type {ReturnType<typeof setTimeout> | null} */ (null);
  const release = () => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    if (pressed === null) return;
    pressed = null;
    setTimeout(rerender, 0); // after the click the release brings
  };
  document.addEventListener('pointerdown', (e) => {
    pressed = e.target instanceof Node ? e.target : null;
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(release, PRESS_HOLD_MS);
  }, true);
  document.addEventListener('pointerup', release, true);
  document.addEventListener('pointercancel', release, true);
}

/**
 * What identifies an element across rebuilds.
 * @param {HTMLElement} el
 */
function keyOf(el) {
  const d = el.dataset;
  return d.testid ? `${d.testid}|${d.alertId ?? d.siteId ?? d.cameraId ?? d.outputId ?? d.profileId ?? ''}` : null;
}

/** @param {HTMLElement} container */
function focusedWithin(container) {
  const el = document.activeElement;
  if (!(el instanceof HTMLElement) || !container.contains(el)) return null;
  const key = keyOf(el);
  if (key === null) return null;
  const selection = el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement ? [el.selectionStart, el.selectionEnd] : null;
  return { key, selection };
}

/**
 * @param {HTMLElement} container
 * @param {{ key: string, selection: (number | null)[] | null }} focused
 */
function restore(container, { key, selection }) {
  for (const el of container.querySelectorAll('[data-testid]')) {
    if (el instanceof HTMLElement && keyOf(el) === key) {
      el.focus({ preventScroll: true });
      if (selection && (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement)) el.setSelectionRange(selection[0], selection[1]);
      return;
    }
  }
}

/** @type {(() => HTMLElement | null | undefined) | null} */
let pendingFocus = null;

/**
 * Moves focus after the next render, to an element that may not exist yet (e.g. the
 * heading of a site page that is about to open).
 * @param {() => HTMLElement | null | undefined} find
 */
export function focusAfterRender(find) {
  pendingFocus = find;
}

/** Called by the render loop once every region is up to date. */
export function applyPendingFocus() {
  const find = pendingFocus;
  pendingFocus = null;
  find?.()?.focus({ preventScroll: false });
}

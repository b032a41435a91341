// Keyboard use on tablets and desktops: digits 1–9 open the n-th site of the list, arrow
// keys move between camera tiles (and between site cards), Esc goes back.

import { moveInGrid } from './grid.js';
import { shownSites, siteForDigit } from './sites.js';

/**
 * @typedef {import('./store.js').Store} Store
 * @typedef {import('./actions.js').Actions} Actions
 */

/** @param {HTMLElement} root */
function tiles(root) {
  return /** @type {HTMLElement[]} */ ([...root.querySelectorAll('[data-testid="camera-tile"]')]);
}

/**
 * How many tiles the CSS grid puts on a row right now: those level with the first.
 * @param {HTMLElement[]} items
 */
function columns(items) {
  const top = items[0]?.offsetTop;
  let n = 0;
  while (n < items.length && items[n].offsetTop === top) n += 1;
  return Math.max(1, n);
}

/**
 * Focuses one tile and makes it the grid's single Tab stop (roving tabindex).
 * @param {HTMLElement[]} items
 * @param {number} index
 */
function focusTile(items, index) {
  items.forEach((el, i) => el.setAttribute('tabindex', i === index ? '0' : '-1'));
  items[index]?.focus();
}

/**
 * @param {HTMLElement} root
 * @param {Store} store
 * @param {Actions} actions
 */
export function installKeys(root, store, actions) {
  root.ownerDocument.addEventListener('keydown', (e) => {
    if (e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey || e.isComposing) return;
    const target = e.target instanceof HTMLElement ? e.target : null;
    const typing = target !== null && (target.matches('input, textarea, select') || target.isContentEditable);
    const state = store.get();

    if (e.key === 'Escape') {
      // In the search field Esc empties it, then goes back; other fields keep their text.
      if (typing && target?.dataset.testid !== 'site-filter') return;
      if (typing && target instanceof HTMLInputElement && target.value !== '') {
        actions.setFilter('');
        target.value = '';
      } else if (state.tab === 'sites' && state.openCameraId !== null) {
        actions.closeCamera();
      } else if (state.tab === 'sites' && state.openSiteId !== null) {
        actions.closeSite();
      } else {
        return;
      }
      e.preventDefault();
      return;
    }
    if (typing) return;

    if (/^[1-9]$/.test(e.key)) {
      const site = siteForDigit(shownSites(state.sites ?? [], state.filter), Number(e.key));
      if (site) {
        actions.openSite(site.id);
        e.preventDefault();
      }
      return;
    }
    // The rest moves among what the Sites tab shows; other tabs keep the browser's keys.
    if (state.tab !== 'sites') return;
    if (state.openCameraId !== null) {
      // Full screen: left and right go to the previous and next camera.
      if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') {
        actions.stepCamera(e.key === 'ArrowRight' ? 1 : -1);
        e.preventDefault();
      }
      return;
    }

    const items = tiles(root);
    const tileIndex = target ? items.indexOf(target) : -1;
    if (tileIndex >= 0) {
      const next = moveInGrid(tileIndex, items.length, columns(items), e.key);
      if (next !== null) {
        focusTile(items, next);
        e.preventDefault();
      }
      return;
    }
    if (target?.dataset.testid === 'site-card' && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
      const cards = /** @type {HTMLElement[]} */ ([...root.querySelectorAll('[data-testid="site-card"]')]);
      const next = moveInGrid(cards.indexOf(target), cards.length, 1, e.key);
      if (next !== null) cards[next]?.focus();
      e.preventDefault();
      return;
    }
    // Anywhere else (the page, its heading, a button), an arrow enters the open site's grid.
    if (e.key.startsWith('Arrow') && state.openSiteId !== null && items.length > 0) {
      focusTile(items, 0);
      e.preventDefault();
    }
  });
}

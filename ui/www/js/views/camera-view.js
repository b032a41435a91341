// One camera full screen: its main stream, name, site and zone, the way back, and the
// previous and next camera — through the site, then on to the next site (buttons, arrow
// keys, or a horizontal swipe; a swipe down closes it).

import { t } from '../i18n.js';
import { h, mark } from '../dom.js';
import { nextCamera } from '../sites.js';
import { outputLabel } from '../labels.js';
import { controlButtons } from './controls.js';

/**
 * @typedef {import('../store.js').State} State
 * @typedef {import('../actions.js').Actions} Actions
 * @typedef {ReturnType<typeof import('../player.js').createPlayers>} Players
 */

/** Pixels a finger must travel for a swipe. */
const SWIPE = 60;

/** @param {State} state */
export function cameraViewDeps(state) {
  return [state.openSiteId, state.openCameraId, state.site, state.lang, state.controls, state.sending, state.confirming, state.pin];
}

/**
 * @param {State} state
 * @param {Actions} actions
 * @param {Players} players
 */
export function cameraView(state, actions, players) {
  const { site, openCameraId: cameraId, openSiteId: siteId } = state;
  if (cameraId === null || siteId === null || site === null) return [];
  const index = site.cameras.findIndex((c) => c.id === cameraId);
  const camera = site.cameras[index];
  const close = h('button', {
    class: 'back camera-close',
    testid: 'camera-close',
    attrs: { type: 'button', 'aria-keyshortcuts': 'Escape' },
    on: { click: () => actions.closeCamera() },
  }, h('span', { class: 'back-icon', attrs: { 'aria-hidden': 'true' } }), h('span', { text: t('camera.close') }));
  if (camera === undefined) {
    return h('section', { class: 'camera-view', testid: 'camera-view' }, h('div', { class: 'camera-bar' }, close), h('p', { class: 'empty-title', text: t('camera.gone') }));
  }
  const zone = camera.zoneName ?? camera.zone;
  const step = (/** @type {1 | -1} */ d, /** @type {'camera.previous' | 'camera.next'} */ label, /** @type {string} */ testid) => h('button', {
    class: `camera-step camera-step-${d > 0 ? 'next' : 'prev'}`,
    testid,
    attrs: { type: 'button', 'aria-label': t(label), title: t(label), disabled: nextCamera(state, d) === null },
    on: { click: () => actions.stepCamera(d) },
  });
  const stage = h('div', { class: 'camera-stage' }, players.view(siteId, camera.id, 'main', camera.hasSnapshot), step(-1, 'camera.previous', 'camera-prev'), step(1, 'camera.next', 'camera-next'));
  swipes(stage, actions);
  return h('section', { class: 'camera-view', testid: 'camera-view', data: { cameraId: camera.id }, attrs: { 'aria-label': camera.name } },
    h('div', { class: 'camera-bar' },
      close,
      h('h2', { class: 'camera-title', testid: 'camera-title', text: camera.name }),
      h('span', { class: 'camera-site', testid: 'camera-site', text: site.name ?? site.id }),
      zone ? h('span', { class: 'muted', text: zone }) : null,
      h('span', { class: 'muted camera-position', text: t('camera.position', { n: index + 1, count: site.cameras.length }) })),
    stage,
    outputsBar(state, siteId, actions));
}

/**
 * The site's outputs the user may switch, under the picture: answer what you see
 * without leaving it.
 * @param {State} state
 * @param {string} siteId
 * @param {Actions} actions
 */
function outputsBar(state, siteId, actions) {
  const rows = (state.site?.outputs ?? []).flatMap((o) => {
    const allowed = state.controls?.outputs.find((c) => c.id === o.id)?.actions ?? [];
    if (allowed.length === 0) return [];
    const label = outputLabel(o.state);
    return [h('div', { class: 'camera-output', testid: 'camera-output', data: { outputId: o.id, state: o.state ?? 'unknown' } },
      h('span', { class: 'camera-output-name', text: o.name }),
      h('span', { class: `state tone-${label.tone}` }, mark('output', o.state ?? 'unknown', label.tone), t(label.key)),
      controlButtons(state, siteId, o.id, o.kind, allowed, actions))];
  });
  return rows.length === 0 ? null : h('section', { class: 'camera-outputs', testid: 'camera-outputs', attrs: { 'aria-label': t('site.outputs') } }, rows);
}

/**
 * Left/right swipes step through the cameras; a swipe down closes the view.
 * @param {HTMLElement} el
 * @param {Actions} actions
 */
function swipes(el, actions) {
  /** @type {{ x: number, y: number } | null} */
  let start = null;
  el.addEventListener('pointerdown', (e) => {
    if (e.pointerType !== 'mouse') start = { x: e.clientX, y: e.clientY };
  });
  el.addEventListener('pointerup', (e) => {
    if (start === null) return;
    const dx = e.clientX - start.x;
    const dy = e.clientY - start.y;
    start = null;
    if (Math.abs(dx) > SWIPE && Math.abs(dx) > Math.abs(dy)) actions.stepCamera(dx < 0 ? 1 : -1);
    else if (dy > SWIPE && dy > Math.abs(dx)) actions.closeCamera();
  });
  el.addEventListener('pointercancel', () => {
    start = null;
  });
}

// One site: its state, a grid of live camera tiles and its outputs (siren, light, lock…).
// Tiles play the cameras' sub streams (player.js); a tap opens the camera full screen.

import { t } from '../i18n.js';
import { h, mark } from '../dom.js';
import { armLabel, healthLabel, kindLabel, linkLabel, outputLabel } from '../labels.js';
import { formatClock } from '../time.js';
import { roleLabel } from '../roles.js';
import { errorText } from './error.js';
import { controlButtons } from './controls.js';

/**
 * @typedef {import('../store.js').State} State
 * @typedef {import('../actions.js').Actions} Actions
 * @typedef {import('../types.js').SiteSummary} SiteSummary
 * @typedef {import('../types.js').CameraView} CameraView
 * @typedef {import('../types.js').OutputView} OutputView
 * @typedef {ReturnType<typeof import('../player.js').createPlayers>} Players
 */

/**
 * What the page region depends on. The list of summaries only matters until the site's
 * own view has arrived (it gives the title meanwhile), so list refreshes for other sites
 * do not rebuild an open page.
 * @param {State} state
 */
export function sitePageDeps(state) {
  return [state.openSiteId, state.site, state.siteError, state.lang, state.site === null ? state.sites : null, state.controls, state.sending, state.confirming];
}

/**
 * @param {State} state
 * @param {Actions} actions
 * @param {Players} players
 */
export function sitePage(state, actions, players) {
  const id = state.openSiteId;
  if (id === null) {
    // Only seen on wide screens, where the list sits beside this pane.
    return h('div', { class: 'empty pick' },
      h('p', { class: 'empty-title', text: t('sites.pick') }),
      h('p', { class: 'muted', text: t('sites.pickHint') }));
  }
  const site = state.site ?? state.sites?.find((s) => s.id === id) ?? null;
  const back = h('button', {
    class: 'back',
    testid: 'back-button',
    attrs: { type: 'button', 'aria-keyshortcuts': 'Escape' },
    on: { click: () => actions.closeSite() },
  }, h('span', { class: 'back-icon', attrs: { 'aria-hidden': 'true' } }), h('span', { text: t('nav.back') }));
  const title = h('h2', { class: 'site-title', testid: 'site-title', attrs: { tabindex: '-1' } },
    site?.name ?? h('span', { class: 'muted site-id', text: id }));
  // What this user may do here, as the site enforces it (no badge without a role). A site
  // that keeps no roles table of its own leaves the enrolled role, which says so.
  const role = site?.role ?? null;
  const roleBadge = role === null
    ? null
    : h('span', {
      class: 'role-badge site-role',
      testid: 'site-role',
      data: { role, from: site?.roleFromSite ? 'site' : 'enrolment' },
      text: t(site?.roleFromSite ? 'site.role' : 'site.roleEnrolled', { role: t(roleLabel(role)) }),
    });

  const body = [];
  if (state.siteError) {
    body.push(state.siteError.kind === 'NotFound'
      ? h('p', { class: 'empty-title', text: t('site.gone') })
      : errorText(site?.name ?? id, state.siteError));
  } else if (state.site === null) {
    body.push(h('p', { class: 'muted', text: t('site.loading') }));
  } else {
    body.push(
      h('h3', { class: 'section-title', text: `${t('site.cameras')} (${state.site.cameras.length})` }),
      state.site.cameras.length === 0
        ? h('p', { class: 'muted', text: t('site.noCameras') })
        : h('ul', { class: 'grid' }, state.site.cameras.map((c, i) => h('li', {}, tile(id, c, i === 0, actions, players)))),
      h('h3', { class: 'section-title', text: t('site.outputs') }),
      state.site.outputs.length === 0
        ? h('p', { class: 'muted', text: t('site.noOutputs') })
        : h('ul', { class: 'outputs' }, state.site.outputs.map((o) => outputRow(state, id, o, actions))),
      arming(state, id, actions),
    );
  }

  return h('section', { class: 'site-page', testid: 'site-page', data: { siteId: id } },
    h('div', { class: 'site-head' }, back, h('div', { class: 'site-head-text' }, h('div', { class: 'site-title-row' }, title, roleBadge), site ? siteStates(site) : null)),
    body);
}

/** @param {SiteSummary} site */
function siteStates(site) {
  const link = linkLabel(site.link);
  const armed = armLabel(site.armed);
  return h('p', { class: 'site-states' },
    h('span', { class: `state tone-${link.tone}` }, mark('link', site.link, link.tone), t(link.key)),
    h('span', { class: `state tone-${armed.tone}` }, mark('armed', site.armed ?? 'unknown', armed.tone), t(armed.key)),
    h('span', {
      class: 'muted',
      text: site.lastSeenMs === null ? t('site.neverSeen') : t('site.lastSeen', { time: formatClock(site.lastSeenMs) }),
    }));
}

/**
 * Only the first tile is in the Tab order; arrow keys move among the others (keys.js), so
 * Tab goes from the grid straight on to the outputs however many cameras there are.
 * @param {string} siteId
 * @param {CameraView} camera
 * @param {boolean} first
 * @param {Actions} actions
 * @param {Players} players
 */
function tile(siteId, camera, first, actions, players) {
  const health = healthLabel(camera.health);
  const zone = camera.zoneName ?? camera.zone;
  const label = [camera.name, zone, t(health.key)].filter(Boolean).join(', ');
  return h('article', {
    class: 'tile',
    testid: 'camera-tile',
    data: { cameraId: camera.id, health: camera.health ?? 'unknown' },
    attrs: { tabindex: first ? '0' : '-1', role: 'button', 'aria-label': label, title: t('camera.open', { name: camera.name }) },
    on: {
      click: () => actions.openCamera(camera.id),
      keydown: (/** @type {KeyboardEvent} */ e) => {
        if (e.key === 'Enter' || e.key === ' ') {
          actions.openCamera(camera.id);
          e.preventDefault();
        }
      },
    },
  },
  h('div', { class: 'tile-video' }, players.view(siteId, camera.id, 'sub', camera.hasSnapshot)),
  h('div', { class: 'tile-info' },
    h('span', { class: 'tile-name', text: camera.name }),
    zone ? h('span', { class: 'tile-zone muted', text: zone }) : null,
    h('span', { class: `badge tone-${health.tone}` }, mark('health', camera.health ?? 'unknown', health.tone), t(health.key))));
}

/**
 * Arming and disarming the site, when the user may.
 * @param {State} state
 * @param {string} siteId
 * @param {Actions} actions
 */
function arming(state, siteId, actions) {
  const allowed = state.controls?.arming ?? [];
  if (allowed.length === 0) return null;
  return h('section', { class: 'arming', testid: 'arming' },
    h('h3', { class: 'section-title', text: t('control.arming') }),
    controlButtons(state, siteId, null, null, allowed, actions));
}

/**
 * @param {State} state
 * @param {string} siteId
 * @param {OutputView} output
 * @param {Actions} actions
 */
function outputRow(state, siteId, output, actions) {
  const allowed = state.controls?.outputs.find((o) => o.id === output.id)?.actions ?? [];
  const label = outputLabel(output.state);
  const meta = [
    output.sinceMs === null ? null : t('output.since', { time: formatClock(output.sinceMs) }),
    output.by === null ? null : t('output.by', { user: output.by }),
  ].filter((s) => s !== null);
  return h('li', {
    class: 'output-row',
    testid: 'output-row',
    data: { outputId: output.id, state: output.state ?? 'unknown', kind: output.kind },
  },
  h('span', { class: `kind-icon kind-${output.kind}`, attrs: { 'aria-hidden': 'true' } }),
  h('span', { class: 'output-name' },
    h('span', { text: output.name }),
    h('span', { class: 'muted output-kind', text: t(kindLabel(output.kind)) })),
  h('span', { class: `state output-state tone-${label.tone}` }, mark('output', output.state ?? 'unknown', label.tone), t(label.key)),
  meta.length > 0 ? h('span', { class: 'muted output-meta', text: meta.join(' · ') }) : null,
  controlButtons(state, siteId, output.id, output.kind, allowed, actions));
}

// The list of sites: one card per site with its name (or its id while the catalog has
// not arrived), its link state, arming and cameras. A card opens the site's page.

import { t } from '../i18n.js';
import { h, mark } from '../dom.js';
import { armLabel, linkLabel } from '../labels.js';
import { FILTER_FROM, needingAttention, shownSites, waitingForCatalog } from '../sites.js';
import { errorText } from './error.js';
import { enrolResult } from './enrol-form.js';
import { needsEnrolment } from '../enrolment.js';

/**
 * @typedef {import('../store.js').State} State
 * @typedef {import('../actions.js').Actions} Actions
 * @typedef {import('../types.js').SiteSummary} SiteSummary
 */

/**
 * What the list region depends on.
 * @param {State} state
 */
export function siteListDeps(state) {
  return [state.sites, state.sitesError, state.openSiteId, state.filter, state.lang, shownResult(state)];
}

/**
 * What an enrolment just gave, once this device is enrolled and the list shows: it stays
 * above the list until dismissed (before enrolment, the welcome shows it).
 * @param {State} state
 */
function shownResult(state) {
  return state.tab === 'sites' && !needsEnrolment(state.info) ? state.enrolment.result : null;
}

/**
 * @param {State} state
 * @param {Actions} actions
 */
export function siteList(state, actions) {
  const sites = state.sites;
  const result = shownResult(state);
  const notice = result ? enrolResult(result, actions) : null;
  const head = h('div', { class: 'list-head' }, h('h2', { text: t('sites.title') }));
  if (sites === null) {
    const body = state.sitesError ? errorText(t('sites.title'), state.sitesError) : h('p', { class: 'muted', text: t('sites.loading') });
    return [notice, head, body].filter((n) => n !== null);
  }
  if (sites.length === 0 && state.sitesError === null) {
    const empty = h('div', { class: 'empty' }, h('p', { class: 'empty-title', text: t('sites.empty') }), h('p', { class: 'muted', text: t('sites.emptyHint') }));
    return [notice, head, empty].filter((n) => n !== null);
  }
  const attention = needingAttention(sites).length;
  const waiting = waitingForCatalog(sites).length;
  head.append(
    h('p', { class: 'muted list-count' },
      t('sites.count', { count: sites.length }),
      attention > 0 ? h('span', { class: 'attention', text: ` · ${t('sites.attention', { count: attention })}` }) : null,
      waiting > 0 ? h('span', { testid: 'sites-waiting', text: ` · ${t('sites.waiting', { count: waiting })}` }) : null,
    ),
  );
  const filter = sites.length >= FILTER_FROM
    ? h('input', {
        class: 'filter',
        testid: 'site-filter',
        attrs: { type: 'search', value: state.filter, placeholder: t('sites.filter'), 'aria-label': t('sites.filter'), autocomplete: 'off' },
        on: { input: (e) => actions.setFilter(/** @type {HTMLInputElement} */ (e.currentTarget).value) },
      })
    : null;
  const shown = shownSites(sites, state.filter);
  const cards = shown.map((site, i) => h('li', {}, card(site, i, state.openSiteId === site.id, actions)));
  return [
    notice,
    head,
    filter,
    state.sitesError ? errorText(t('sites.title'), state.sitesError) : null,
    shown.length === 0 ? h('p', { class: 'muted', text: t('sites.noMatch', { query: state.filter }) }) : null,
    h('ul', { class: 'cards' }, cards),
  ].filter((n) => n !== null);
}

/**
 * @param {SiteSummary} site
 * @param {number} index position in the list as shown (digit keys follow it)
 * @param {boolean} open
 * @param {Actions} actions
 */
function card(site, index, open, actions) {
  const link = linkLabel(site.link);
  const armed = armLabel(site.armed);
  const title = site.name === null
    ? h('span', { class: 'card-title' },
        h('span', { class: 'muted site-id', text: site.id }),
        h('span', { class: 'tag', text: t('sites.waitingCatalog') }))
    : h('span', { class: 'card-title', text: site.name });
  return h(
    'button',
    {
      class: `card link-${site.link}`,
      testid: 'site-card',
      data: { siteId: site.id, link: site.link },
      attrs: {
        type: 'button',
        'aria-current': open ? 'true' : false,
        'aria-keyshortcuts': index < 9 ? String(index + 1) : false,
      },
      on: { click: () => actions.openSite(site.id) },
    },
    index < 9 ? h('span', { class: 'card-key', text: String(index + 1), attrs: { 'aria-hidden': 'true' } }) : null,
    title,
    h('span', { class: 'card-states' },
      h('span', { class: `state tone-${link.tone}` }, mark('link', site.link, link.tone), t(link.key)),
      h('span', { class: `state tone-${armed.tone}` }, mark('armed', site.armed ?? 'unknown', armed.tone), t(armed.key)),
    ),
    h('span', { class: 'card-meta muted' },
      t('sites.cameras', { count: site.cameraCount }),
      site.faultyCameras > 0 ? h('span', { class: 'state tone-warn', text: ` · ${t('sites.faulty', { count: site.faultyCameras })}` }) : null,
    ),
  );
}

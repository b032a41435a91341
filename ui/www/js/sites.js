// Ordering and finding sites in the list. The order is stable (by name, then id) rather
// than by urgency: keys 1–9 pick the n-th site, and a list that reshuffles whenever a link
// drops would make the same key open a different site. Urgency is shown on each card.

/** @typedef {import('./types.js').SiteSummary} SiteSummary */

// Numeric so that "Store 2" sorts before "Store 10"; one collator works for kana and kanji
// names too (they sort by code point within their script, which is what users expect
// from a plain list).
const collator = new Intl.Collator(['ja', 'en'], { numeric: true, sensitivity: 'base' });

/**
 * Named sites by name, then sites still waiting for their catalog, by id.
 * @param {SiteSummary} a
 * @param {SiteSummary} b
 */
export function compareSites(a, b) {
  if ((a.name === null) !== (b.name === null)) return a.name === null ? 1 : -1;
  return collator.compare(a.name ?? a.id, b.name ?? b.id) || collator.compare(a.id, b.id);
}

/**
 * @param {readonly SiteSummary[]} sites
 * @returns {SiteSummary[]} a sorted copy
 */
export function sortSites(sites) {
  return [...sites].sort(compareSites);
}

/**
 * The sites whose name or id contains the query, ignoring case, width and surrounding
 * space (so "ｓｔｏｒｅ" finds "Store"). An empty query keeps every site.
 * @param {readonly SiteSummary[]} sites
 * @param {string} query
 */
export function filterSites(sites, query) {
  const q = fold(query);
  if (q === '') return [...sites];
  return sites.filter((s) => fold(s.name ?? '').includes(q) || fold(s.id).includes(q));
}

/** @param {string} s */
function fold(s) {
  return s.normalize('NFKC').trim().toLocaleLowerCase();
}

/**
 * The sites that need someone to look: not online, or with a camera at fault.
 * @param {readonly SiteSummary[]} sites
 */
export function needingAttention(sites) {
  return sites.filter((s) => s.link === 'offline' || s.link === 'lost' || s.faultyCameras > 0);
}

/**
 * The sites whose catalog has not arrived: on a broker that has many sites to deliver,
 * they come in batches (and one that did not come is asked for again), so the list says
 * how many are still on their way.
 * @param {readonly SiteSummary[]} sites
 */
export function waitingForCatalog(sites) {
  return sites.filter((s) => s.name === null);
}

/**
 * The site for digit key `n` (1-based) in the list as shown, if there is one.
 * @param {readonly SiteSummary[]} shown
 * @param {number} n
 */
export function siteForDigit(shown, n) {
  return Number.isInteger(n) && n >= 1 && n <= 9 ? shown[n - 1] : undefined;
}

/** Past this many sites the digit keys no longer reach them all, so a search field appears. */
export const FILTER_FROM = 10;

/**
 * The sites as the list shows them: all of them, or those matching the search field once
 * there is one.
 * @param {readonly SiteSummary[]} sites sorted
 * @param {string} query
 */
export function shownSites(sites, query) {
  return sites.length >= FILTER_FROM ? filterSites(sites, query) : [...sites];
}

/**
 * Where "next camera" (+1) or "previous camera" (-1) goes from the camera open now: the
 * next camera of the open site, else the next site of the shown list that has cameras
 * (wrapping around; `cameraId` null means its first or last camera, known once its view
 * is read). Null when there is nowhere to go.
 * @param {{ sites: SiteSummary[] | null, filter: string, openSiteId: string | null, openCameraId: string | null, site: import('./types.js').SiteView | null }} state
 * @param {1 | -1} step
 * @returns {{ siteId: string, cameraId: string | null } | null}
 */
export function nextCamera(state, step) {
  const { site, openCameraId } = state;
  if (site === null || openCameraId === null) return null;
  const i = site.cameras.findIndex((c) => c.id === openCameraId);
  const j = i + step;
  if (i >= 0 && j >= 0 && j < site.cameras.length) return { siteId: site.id, cameraId: site.cameras[j].id };
  const list = shownSites(state.sites ?? [], state.filter);
  const here = list.findIndex((s) => s.id === site.id);
  for (let k = 1; k <= list.length; k += 1) {
    const other = list[(((here + step * k) % list.length) + list.length) % list.length];
    if (other.id === site.id) break;
    if (other.cameraCount > 0) return { siteId: other.id, cameraId: null };
  }
  // Only this site has cameras: wrap around within it.
  if (site.cameras.length < 2) return null;
  return { siteId: site.id, cameraId: site.cameras[(j + site.cameras.length) % site.cameras.length].id };
}

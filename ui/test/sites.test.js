import { test } from 'node:test';
import assert from 'node:assert/strict';
import { filterSites, needingAttention, nextCamera, shownSites, siteForDigit, sortSites, waitingForCatalog, FILTER_FROM } from '../www/js/sites.js';

/**
 * @param {string} id
 * @param {string | null} name
 * @param {Partial<import('../www/js/types.js').SiteSummary>} [rest]
 * @returns {import('../www/js/types.js').SiteSummary}
 */
const site = (id, name, rest = {}) => ({
  id, name, link: 'online', armed: null, cameraCount: 0, faultyCameras: 0, outputCount: 0, lastSeenMs: null, role: null, roleFromSite: false, ...rest,
});

test('sites sort by name, numbers in names by value, unnamed ones last by id', () => {
  const sorted = sortSites([
    site('z', null), site('s10', 'Store 10'), site('a', null), site('s2', 'Store 2'), site('hq', '東京'), site('b', 'bakery'),
  ]);
  assert.deepEqual(sorted.map((s) => s.id), ['b', 's2', 's10', 'hq', 'a', 'z']);
});

test('the order does not depend on link state, so digit keys stay put', () => {
  const a = [site('1', 'Alpha'), site('2', 'Beta', { link: 'lost' })];
  const b = [site('2', 'Beta', { link: 'online' }), site('1', 'Alpha', { link: 'offline' })];
  assert.deepEqual(sortSites(a).map((s) => s.id), sortSites(b).map((s) => s.id));
});

test('same names fall back to id order', () => {
  assert.deepEqual(sortSites([site('b', 'Shop'), site('a', 'Shop')]).map((s) => s.id), ['a', 'b']);
});

test('sorting copies and leaves the input alone', () => {
  const input = [site('b', 'B'), site('a', 'A')];
  sortSites(input);
  assert.deepEqual(input.map((s) => s.id), ['b', 'a']);
});

test('the filter matches name or id, ignoring case, width and spaces', () => {
  const sites = [site('tokyo-hq', '東京本社'), site('osaka', 'Osaka Warehouse'), site('kyoto', null)];
  assert.deepEqual(filterSites(sites, 'ware').map((s) => s.id), ['osaka']);
  assert.deepEqual(filterSites(sites, '  ＯＳＡＫＡ ').map((s) => s.id), ['osaka']);
  assert.deepEqual(filterSites(sites, '東京').map((s) => s.id), ['tokyo-hq']);
  assert.deepEqual(filterSites(sites, 'kyo').map((s) => s.id), ['tokyo-hq', 'kyoto']);
  assert.deepEqual(filterSites(sites, '').length, 3);
  assert.deepEqual(filterSites(sites, 'nothing'), []);
});

test('the search only narrows the list once it has a search field', () => {
  const few = [site('a', 'Alpha'), site('b', 'Beta')];
  assert.equal(shownSites(few, 'alp').length, 2);
  const many = Array.from({ length: FILTER_FROM }, (_, i) => site(`s${i}`, `Site ${i}`));
  assert.deepEqual(shownSites(many, 'site 3').map((s) => s.id), ['s3']);
});

test('sites needing attention: offline, lost or with a camera at fault', () => {
  const sites = [
    site('ok', 'A'), site('off', 'B', { link: 'offline' }), site('lost', 'C', { link: 'lost' }),
    site('unk', 'D', { link: 'unknown' }), site('cam', 'E', { faultyCameras: 1 }),
  ];
  assert.deepEqual(needingAttention(sites).map((s) => s.id), ['off', 'lost', 'cam']);
});

test('the sites still waiting for their catalog are counted apart', () => {
  const sites = [site('a', 'A'), site('b', null, { link: 'unknown' }), site('c', null, { link: 'unknown' })];
  assert.deepEqual(waitingForCatalog(sites).map((s) => s.id), ['b', 'c']);
  assert.deepEqual(waitingForCatalog([site('a', 'A', { link: 'unknown' })]), [], 'a named site has its catalog');
});

test('digits 1–9 pick the n-th site shown', () => {
  const sites = [site('a', 'A'), site('b', 'B')];
  assert.equal(siteForDigit(sites, 1)?.id, 'a');
  assert.equal(siteForDigit(sites, 2)?.id, 'b');
  assert.equal(siteForDigit(sites, 3), undefined);
  assert.equal(siteForDigit(sites, 0), undefined);
});

/**
 * The open site's view with these cameras.
 * @param {string} id
 * @param {string[]} cameras
 * @returns {import('../www/js/types.js').SiteView}
 */
const view = (id, cameras) => ({
  ...site(id, id, { cameraCount: cameras.length }),
  timeZone: null, supervisionS: 90, armable: false, outputs: [],
  cameras: cameras.map((c) => ({ id: c, name: c, zone: null, zoneName: null, health: null, hasSubStream: false, hasSnapshot: false })),
});

test('next camera: through the site, then on to the next site with cameras, and around', () => {
  const sites = [site('a', 'A', { cameraCount: 2 }), site('b', 'B', { cameraCount: 0 }), site('c', 'C', { cameraCount: 3 })];
  const at = (/** @type {string} */ siteId, /** @type {string[]} */ cameras, /** @type {string} */ cameraId) => ({ sites, filter: '', openSiteId: siteId, openCameraId: cameraId, site: view(siteId, cameras) });
  assert.deepEqual(nextCamera(at('a', ['a1', 'a2'], 'a1'), 1), { siteId: 'a', cameraId: 'a2' });
  // Past the last camera: the next site with cameras (b has none).
  assert.deepEqual(nextCamera(at('a', ['a1', 'a2'], 'a2'), 1), { siteId: 'c', cameraId: null });
  // Before the first: the previous site, around the end of the list.
  assert.deepEqual(nextCamera(at('a', ['a1', 'a2'], 'a1'), -1), { siteId: 'c', cameraId: null });
  assert.deepEqual(nextCamera(at('c', ['c1', 'c2', 'c3'], 'c3'), 1), { siteId: 'a', cameraId: null });
  // Only one site with cameras: around within it; one camera alone goes nowhere.
  const lone = { sites: [site('a', 'A', { cameraCount: 2 })], filter: '', openSiteId: 'a', openCameraId: 'a2', site: view('a', ['a1', 'a2']) };
  assert.deepEqual(nextCamera(lone, 1), { siteId: 'a', cameraId: 'a1' });
  assert.equal(nextCamera({ ...lone, site: view('a', ['a1']), openCameraId: 'a1' }, 1), null);
  assert.equal(nextCamera({ ...lone, openCameraId: null }, 1), null);
});

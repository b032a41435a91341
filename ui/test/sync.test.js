import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStore } from '../www/js/store.js';
import { createSync } from '../www/js/sync.js';

/**
 * @typedef {import('../www/js/types.js').SiteSummary} SiteSummary
 * @typedef {import('../www/js/types.js').SiteView} SiteView
 * @typedef {import('../www/js/types.js').BusChange} BusChange
 */

/**
 * @param {string} id
 * @param {import('../www/js/types.js').SiteLink} [link]
 * @returns {SiteSummary}
 */
const summary = (id, link = 'online') => ({
  id, name: id.toUpperCase(), link, armed: 'armed', cameraCount: 1, faultyCameras: 0, outputCount: 0, lastSeenMs: 1,
});

/**
 * @param {string} id
 * @returns {SiteView}
 */
const view = (id) => ({ ...summary(id), timeZone: null, supervisionS: 90, armable: true, cameras: [], outputs: [] });

/** A promise and the functions that settle it, so a test decides when a call answers. */
function deferred() {
  /** @type {(v: any) => void} */
  let resolve = () => {};
  /** @type {(e: unknown) => void} */
  let reject = () => {};
  const promise = new Promise((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A fake API whose calls are recorded and, unless held, answer at once from `world`. */
function fakeApi() {
  const world = {
    /** @type {SiteSummary[]} */
    sites: [summary('b'), summary('a')],
    /** @type {import('../www/js/types.js').ConnectionStatus} */
    connection: { phase: 'connected', sinceMs: 5, attempt: 0, problem: null, encrypted: true },
  };
  /** @type {string[]} */
  const calls = [];
  /** @type {Map<string, ReturnType<typeof deferred>[]>} */
  const held = new Map();
  /** @type {((change: BusChange) => void) | null} */
  let listener = null;
  /**
   * @template T
   * @param {string} name
   * @param {() => T} answer
   * @returns {Promise<T>}
   */
  const call = async (name, answer) => {
    calls.push(name);
    const gate = held.get(name)?.shift();
    if (gate) await gate.promise;
    return answer();
  };
  const api = {
    listSites: () => call('listSites', () => structuredClone(world.sites)),
    /** @param {string} id */
    getSite: (id) => call(`getSite:${id}`, () => {
      if (!world.sites.some((s) => s.id === id)) throw { kind: 'NotFound', message: `no site \`${id}\`` };
      return view(id);
    }),
    connectionStatus: () => call('connectionStatus', () => ({ ...world.connection })),
    busStats: () => call('busStats', () => ({ received: 3, rejected: 0, lastRejection: null })),
    appInfo: () => call('appInfo', () => ({ version: '1.2.3', demo: true })),
    /** @param {(change: BusChange) => void} cb */
    onBusChange: async (cb) => {
      calls.push('listen');
      listener = cb;
      return () => {};
    },
  };
  return {
    api,
    world,
    calls,
    /** Makes the next call of `name` wait until the returned deferred is resolved. */
    hold(/** @type {string} */ name) {
      const d = deferred();
      held.set(name, [...(held.get(name) ?? []), d]);
      return d;
    },
    /** @param {BusChange} change */
    emit: (change) => listener?.(change),
  };
}

/** @returns {import('../www/js/store.js').State} */
const initial = () => ({
  available: true, info: null, connection: null, stats: null, sites: null, sitesError: null,
  openSiteId: null, site: null, siteError: null, tab: 'sites', filter: '', lang: 'en', theme: 'dark',
});

const tick = () => new Promise((r) => setTimeout(r, 0));

test('start listens before it reads, then fills the store (sites sorted)', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  await createSync(fake.api, store).start();
  assert.equal(fake.calls[0], 'listen');
  assert.deepEqual(new Set(fake.calls.slice(1)), new Set(['appInfo', 'listSites', 'connectionStatus', 'busStats']));
  const s = store.get();
  assert.deepEqual(s.sites?.map((x) => x.id), ['a', 'b']);
  assert.equal(s.connection?.phase, 'connected');
  assert.deepEqual(s.info, { version: '1.2.3', demo: true });
  assert.equal(s.stats?.received, 3);
});

test('a site change re-reads the list, and the site only when it is open', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  const sync = createSync(fake.api, store);
  await sync.start();
  fake.calls.length = 0;

  fake.world.sites = [summary('a', 'lost'), summary('b')];
  await sync.handle({ type: 'site', siteId: 'a' });
  assert.deepEqual(fake.calls, ['listSites']);
  assert.equal(store.get().sites?.[0].link, 'lost');

  await sync.openSite('a');
  fake.calls.length = 0;
  await sync.handle({ type: 'site', siteId: 'b' });
  assert.deepEqual(fake.calls, ['listSites']);
  await sync.handle({ type: 'site', siteId: 'a' });
  assert.deepEqual(fake.calls, ['listSites', 'listSites', 'getSite:a']);
});

test('events arriving through the listener are handled', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  await createSync(fake.api, store).start();
  fake.world.sites = [summary('a', 'offline')];
  fake.emit({ type: 'site', siteId: 'a' });
  await tick();
  assert.deepEqual(store.get().sites?.map((s) => s.link), ['offline']);
});

test('a burst of changes during a read costs one more read, and the last answer wins', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  const sync = createSync(fake.api, store);
  const first = fake.hold('listSites');
  const done = Promise.all([1, 2, 3, 4, 5].map(() => sync.handle({ type: 'site', siteId: 'a' })));
  fake.world.sites = [summary('a', 'lost')];
  first.resolve(undefined);
  await done;
  assert.deepEqual(fake.calls, ['listSites', 'listSites']);
  assert.equal(store.get().sites?.[0].link, 'lost');
});

test('the answer for a site that is no longer open is dropped', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  const sync = createSync(fake.api, store);
  const slow = fake.hold('getSite:a');
  const openA = sync.openSite('a');
  const openB = sync.openSite('b');
  slow.resolve(undefined);
  await Promise.all([openA, openB]);
  assert.equal(store.get().openSiteId, 'b');
  assert.equal(store.get().site?.id, 'b');
  assert.deepEqual(fake.calls, ['getSite:a', 'getSite:b']);
});

test('closing a site forgets it, and a late answer does not bring it back', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  const sync = createSync(fake.api, store);
  const slow = fake.hold('getSite:a');
  const open = sync.openSite('a');
  sync.closeSite();
  slow.resolve(undefined);
  await open;
  assert.equal(store.get().openSiteId, null);
  assert.equal(store.get().site, null);
});

test('a site that disappeared shows as NotFound', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  const sync = createSync(fake.api, store);
  await sync.openSite('gone');
  assert.equal(store.get().site, null);
  assert.deepEqual(store.get().siteError, { kind: 'NotFound', message: 'no site `gone`' });
});

test('a failed list keeps the last good one and reports the error', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  const sync = createSync(fake.api, store);
  await sync.start();
  fake.api.listSites = async () => {
    throw { kind: 'Unavailable', message: 'core stopping' };
  };
  await sync.handle({ type: 'site', siteId: 'a' });
  assert.deepEqual(store.get().sites?.map((s) => s.id), ['a', 'b']);
  assert.equal(store.get().sitesError?.kind, 'Unavailable');
});

test('a connection event is applied as it comes, and beats an older read', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  const sync = createSync(fake.api, store);
  const slow = fake.hold('connectionStatus');
  const reading = sync.handle({ type: 'resync' });
  await sync.handle({ type: 'connection', phase: 'reconnecting', sinceMs: 9, attempt: 2, problem: 'closed', encrypted: true });
  assert.deepEqual(store.get().connection, { phase: 'reconnecting', sinceMs: 9, attempt: 2, problem: 'closed', encrypted: true });
  slow.resolve(undefined); // answers with the older "connected"
  await reading;
  assert.equal(store.get().connection?.phase, 'reconnecting');
});

test('resync re-reads everything, including the open site', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  const sync = createSync(fake.api, store);
  await sync.openSite('a');
  fake.calls.length = 0;
  await sync.handle({ type: 'resync' });
  assert.deepEqual(new Set(fake.calls), new Set(['listSites', 'getSite:a', 'connectionStatus', 'busStats']));
});

test('bus stats follow site changes while Settings is shown', async () => {
  const fake = fakeApi();
  const store = createStore({ ...initial(), tab: 'settings' });
  const sync = createSync(fake.api, store);
  await sync.handle({ type: 'site', siteId: 'a' });
  assert.deepEqual(new Set(fake.calls), new Set(['listSites', 'busStats']));
});

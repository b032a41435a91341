import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createStore } from '../www/js/store.js';
import { createSync } from '../www/js/sync.js';
import { initialState as initial } from './fixtures.js';

/**
 * @typedef {import('../www/js/types.js').SiteSummary} SiteSummary
 * @typedef {import('../www/js/types.js').SiteView} SiteView
 * @typedef {import('../www/js/types.js').BusChange} BusChange
 * @typedef {import('../www/js/types.js').ProfileSummary} ProfileSummary
 * @typedef {import('../www/js/types.js').AlertView} AlertView
 */

/**
 * @param {string} id
 * @param {import('../www/js/types.js').SiteLink} [link]
 * @returns {SiteSummary}
 */
const summary = (id, link = 'online') => ({
  id, name: id.toUpperCase(), link, armed: 'armed', cameraCount: 1, faultyCameras: 0, outputCount: 0, lastSeenMs: 1, role: null, roleFromSite: false,
});

/**
 * @param {string} id
 * @returns {SiteView}
 */
const view = (id) => ({ ...summary(id), timeZone: null, supervisionS: 90, armable: true, cameras: [], outputs: [] });

/**
 * @param {string} id
 * @param {string} label
 * @returns {ProfileSummary}
 */
const profile = (id, label) => ({
  id, label, user: 'aiko', enrolledMs: 1, sites: [{ id: 'a', name: 'A', role: 'operator' }, { id: 'b', name: 'B', role: 'viewer' }],
});

/**
 * A profile connected to its broker, as `AppInfo.connections` lists it.
 * @param {string} profileId
 * @returns {import('../www/js/types.js').ProfileConnection}
 */
const connected = (profileId) => ({
  profileId, status: { phase: 'connected', sinceMs: 1, attempt: 0, problem: null, encrypted: true, cannotStore: false },
});

/**
 * @param {string} id
 * @param {string | null} [acknowledgedBy]
 * @returns {AlertView}
 */
const alert = (id, acknowledgedBy = null) => ({
  siteId: 'a', id, timeMs: 1, kind: 'intrusion', zone: null, title: `alert ${id}`, cameras: [], hasSnapshot: false, pictureProblem: null,
  acknowledgedBy, acknowledgedMs: acknowledgedBy === null ? null : 2, note: null,
});

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
    connection: { phase: 'connected', sinceMs: 5, attempt: 0, problem: null, encrypted: true, cannotStore: false },
    /** @type {import('../www/js/types.js').AppInfo} */
    info: { version: '1.2.3', demo: true, connections: [] },
    /** @type {ProfileSummary[]} */
    profiles: [],
    /** @type {ProfileSummary | { kind: string, message: string }} what `enrol` answers: a profile, or an error to throw */
    enrolAnswer: profile('p1', 'Example Co.'),
    /** @type {{ kind: string, message: string } | null} */
    removeError: null,
    /** @type {AlertView[]} */
    alerts: [alert('a2'), alert('a1', 'sato')],
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
    busStats: () => call('busStats', () => ({ received: 3, rejected: 0, lastRejection: null, unstored: 0, replayed: 0 })),
    appInfo: () => call('appInfo', () => ({ ...world.info })),
    listProfiles: () => call('listProfiles', () => structuredClone(world.profiles)),
    /** @param {number} limit */
    listAlerts: (limit) => call(`listAlerts:${limit}`, () => structuredClone(world.alerts.slice(0, limit))),
    /**
     * @param {string} code
     * @param {string} pin
     */
    enrol: (code, pin) => call(`enrol:${code}:${pin}`, () => {
      const answer = world.enrolAnswer;
      if ('kind' in answer) throw answer;
      world.profiles = [...world.profiles, answer];
      world.info = { ...world.info, demo: false, connections: [...world.info.connections.filter((c) => c.profileId !== answer.id), connected(answer.id)] };
      return structuredClone(answer);
    }),
    /** @param {string} id */
    removeProfile: (id) => call(`removeProfile:${id}`, () => {
      if (world.removeError) throw world.removeError;
      world.profiles = world.profiles.filter((p) => p.id !== id);
      world.info = { ...world.info, connections: world.info.connections.filter((c) => c.profileId !== id) };
      return null;
    }),
    /** @param {(change: BusChange) => void} cb */
    onBusChange: async (cb) => {
      calls.push('listen');
      listener = cb;
      return () => {};
    },
    // Read with every alert read; not counted as a call of its own.
    possibleGaps: async () => [{ siteId: 'a', fromSeq: 11, toSeq: 60, notedMs: 5 }],
    alertPicture: async () => {
      throw new Error('sync read an alert picture');
    },
    acknowledgeAlert: async () => {
      throw new Error('sync acknowledged an alert');
    },
    // Video is not sync's business: these must never be called from it.
    openStream: async () => {
      throw new Error('sync opened a stream');
    },
    closeStream: async () => {
      throw new Error('sync closed a stream');
    },
    suspendStream: async () => {
      throw new Error('sync suspended a stream');
    },
    getSnapshot: async () => {
      throw new Error('sync read a snapshot');
    },
    warmStreams: async () => {
      throw new Error('sync warmed streams');
    },
    siteControls: async () => {
      throw new Error('sync read controls');
    },
    setOutput: async () => {
      throw new Error('sync sent a command');
    },
    setArming: async () => {
      throw new Error('sync sent a command');
    },
    pinStatus: async () => {
      throw new Error('sync read the PIN status');
    },
    confirmPin: async () => {
      throw new Error('sync confirmed a PIN');
    },
    startClip: async () => {
      throw new Error('sync started a clip');
    },
    stopClip: async () => {
      throw new Error('sync stopped a clip');
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


const tick = () => new Promise((r) => setTimeout(r, 0));

test('start listens before it reads, then fills the store (sites sorted)', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  await createSync(fake.api, store).start();
  assert.equal(fake.calls[0], 'listen');
  assert.deepEqual(new Set(fake.calls.slice(1)), new Set(['appInfo', 'listProfiles', 'listSites', 'connectionStatus', 'busStats', 'listAlerts:200']));
  const s = store.get();
  assert.deepEqual(s.sites?.map((x) => x.id), ['a', 'b']);
  assert.equal(s.connection?.phase, 'connected');
  assert.deepEqual(s.info, { version: '1.2.3', demo: true, connections: [] });
  assert.deepEqual(s.profiles, []);
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
  await sync.handle({ type: 'connection', phase: 'reconnecting', sinceMs: 9, attempt: 2, problem: 'closed', encrypted: true, cannotStore: false });
  assert.deepEqual(store.get().connection, { phase: 'reconnecting', sinceMs: 9, attempt: 2, problem: 'closed', encrypted: true, cannotStore: false });
  slow.resolve(undefined); // answers with the older "connected"
  await reading;
  assert.equal(store.get().connection?.phase, 'reconnecting');
});

test('a connection event also re-reads each profile\'s own connection and the sites', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  const sync = createSync(fake.api, store);
  await sync.start();
  fake.world.info = { version: '1.2.3', demo: false, connections: [connected('p1'), { profileId: 'p2', status: { ...connected('p2').status, phase: 'stopped', problem: 'notAuthorized' } }] };
  fake.calls.length = 0;
  await sync.handle({ type: 'connection', phase: 'stopped', sinceMs: 9, attempt: 0, problem: 'notAuthorized', encrypted: true, cannotStore: false });
  assert.ok(fake.calls.includes('appInfo') && fake.calls.includes('listSites'), fake.calls.join());
  assert.deepEqual(store.get().info?.connections.map((c) => [c.profileId, c.status.problem]), [['p1', null], ['p2', 'notAuthorized']]);
});

test('resync re-reads everything, including the open site', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  const sync = createSync(fake.api, store);
  await sync.openSite('a');
  fake.calls.length = 0;
  await sync.handle({ type: 'resync' });
  assert.deepEqual(new Set(fake.calls), new Set(['appInfo', 'listProfiles', 'listSites', 'getSite:a', 'connectionStatus', 'busStats', 'listAlerts:200']));
});

test('resync reads the connected profiles and the profiles anew (the core enrolled one)', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  const sync = createSync(fake.api, store);
  await sync.start();
  assert.deepEqual(store.get().info?.connections, []);
  fake.world.info = { version: '1.2.3', demo: false, connections: [connected('p2')] };
  fake.world.profiles = [profile('p2', 'Other Co.')];
  fake.emit({ type: 'resync' });
  await tick();
  assert.deepEqual(store.get().info?.connections.map((c) => c.profileId), ['p2']);
  assert.deepEqual(store.get().profiles?.map((p) => p.label), ['Other Co.']);
});

test('a failed profile list is reported and keeps the last good one', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  const sync = createSync(fake.api, store);
  fake.world.profiles = [profile('p1', 'Example Co.')];
  await sync.start();
  fake.api.listProfiles = async () => {
    throw { kind: 'Unavailable', message: 'keychain locked' };
  };
  await sync.handle({ type: 'resync' });
  assert.deepEqual(store.get().profiles?.map((p) => p.id), ['p1']);
  assert.equal(store.get().profilesError?.kind, 'Unavailable');
});

test('enrol: busy while it runs, then the result; profiles and app info are read again', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  const sync = createSync(fake.api, store);
  const gate = fake.hold('enrol:MMR1.x:ABCDE-FGHJK');
  const running = sync.enrol('MMR1.x', 'ABCDE-FGHJK');
  assert.deepEqual(store.get().enrolment, { busy: true, error: null, result: null });
  assert.equal(await sync.enrol('MMR1.x', 'ABCDE-FGHJK'), false, 'a second submission while busy is ignored');
  gate.resolve(undefined);
  assert.equal(await running, true);
  const s = store.get();
  assert.equal(s.enrolment.busy, false);
  assert.equal(s.enrolment.error, null);
  assert.equal(s.enrolment.result?.label, 'Example Co.');
  assert.deepEqual(s.info?.connections.map((c) => c.profileId), ['p1']);
  assert.deepEqual(s.profiles?.map((p) => p.id), ['p1']);
  assert.equal(fake.calls.filter((c) => c.startsWith('enrol:')).length, 1);
  // Neither the code nor the PIN is kept anywhere in the state.
  const text = JSON.stringify(s);
  assert.ok(!text.includes('MMR1.x') && !text.includes('ABCDE'), text);
});

test('enrol: an error is kept with its kind, and the form may try again', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  const sync = createSync(fake.api, store);
  fake.world.enrolAnswer = { kind: 'Unauthenticated', message: 'wrong PIN' };
  assert.equal(await sync.enrol('MMR1.x', 'WRONG'), false);
  assert.deepEqual(store.get().enrolment, { busy: false, error: { kind: 'Unauthenticated', message: 'wrong PIN' }, result: null });
  assert.ok(!fake.calls.includes('listProfiles'), 'nothing changed, nothing to re-read');
  fake.world.enrolAnswer = profile('p1', 'Example Co.');
  assert.equal(await sync.enrol('MMR1.x', 'ABCDE-FGHJK'), true);
  assert.equal(store.get().enrolment.error, null);
  sync.dismissEnrolment();
  assert.deepEqual(store.get().enrolment, { busy: false, error: null, result: null });
});

test('removing a profile asks first, can be cancelled, and re-reads afterwards', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  const sync = createSync(fake.api, store);
  await sync.enrol('MMR1.x', 'ABCDE-FGHJK');
  sync.askRemoval('p1');
  assert.deepEqual(store.get().removal, { profileId: 'p1', busy: false, error: null });
  sync.askRemoval(null);
  assert.equal(store.get().removal, null);
  assert.ok(!fake.calls.some((c) => c.startsWith('removeProfile')), 'asking removes nothing');

  fake.world.removeError = { kind: 'Unavailable', message: 'the keychain is locked' };
  sync.askRemoval('p1');
  assert.equal(await sync.removeProfile('p1'), false);
  assert.deepEqual(store.get().removal, { profileId: 'p1', busy: false, error: fake.world.removeError });
  assert.deepEqual(store.get().profiles?.map((p) => p.id), ['p1']);

  fake.world.removeError = null;
  fake.calls.length = 0;
  assert.equal(await sync.removeProfile('p1'), true);
  const s = store.get();
  assert.equal(s.removal, null);
  assert.deepEqual(s.profiles, []);
  assert.deepEqual(s.info?.connections, []);
  assert.equal(s.enrolment.result, null, 'the result about the removed profile is gone');
  assert.deepEqual(new Set(fake.calls), new Set(['removeProfile:p1', 'appInfo', 'listProfiles']));
});

test('bus stats follow site changes while Settings is shown', async () => {
  const fake = fakeApi();
  const store = createStore({ ...initial(), tab: 'settings' });
  const sync = createSync(fake.api, store);
  await sync.handle({ type: 'site', siteId: 'a' });
  assert.deepEqual(new Set(fake.calls), new Set(['listSites', 'busStats']));
});

test('start reads the alerts (newest 200); they stay null until then', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  assert.equal(store.get().alerts, null);
  await createSync(fake.api, store).start();
  assert.ok(fake.calls.includes('listAlerts:200'));
  assert.deepEqual(store.get().alerts?.map((a) => a.id), ['a2', 'a1']);
  assert.equal(store.get().alertsError, null);
  assert.deepEqual(store.get().gaps, [{ siteId: 'a', fromSeq: 11, toSeq: 60, notedMs: 5 }], 'possible gaps come with them');
});

test('an inbox change re-reads the alerts, and only them', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  const sync = createSync(fake.api, store);
  await sync.start();
  fake.calls.length = 0;
  fake.world.alerts = [alert('a3'), ...fake.world.alerts];
  fake.emit({ type: 'inbox', siteId: 'a' });
  await tick();
  assert.deepEqual(fake.calls, ['listAlerts:200']);
  assert.deepEqual(store.get().alerts?.map((a) => a.id), ['a3', 'a2', 'a1']);
});

test('a burst of inbox changes costs one read in flight and one more, and the last answer wins', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  const sync = createSync(fake.api, store);
  const first = fake.hold('listAlerts:200');
  const done = Promise.all([1, 2, 3, 4, 5, 6].map(() => sync.handle({ type: 'inbox', siteId: 'a' })));
  fake.world.alerts = [alert('a9')];
  first.resolve(undefined);
  await done;
  assert.deepEqual(fake.calls, ['listAlerts:200', 'listAlerts:200']);
  assert.deepEqual(store.get().alerts?.map((a) => a.id), ['a9']);
});

test('a failed alert read keeps the last good list and reports the error', async () => {
  const fake = fakeApi();
  const store = createStore(initial());
  const sync = createSync(fake.api, store);
  await sync.start();
  fake.api.listAlerts = async () => {
    throw { kind: 'Unavailable', message: 'store closed' };
  };
  await sync.handle({ type: 'inbox', siteId: 'a' });
  assert.deepEqual(store.get().alerts?.map((a) => a.id), ['a2', 'a1']);
  assert.equal(store.get().alertsError?.kind, 'Unavailable');
});

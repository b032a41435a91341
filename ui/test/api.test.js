import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { appInfo, closeStream, enrol, getSite, isAvailable, listAlerts, listProfiles, onBusChange, openStream, removeProfile, toIpcError } from '../www/js/api.js';

afterEach(() => {
  globalThis.__TAURI__ = undefined;
});

/** A channel like Tauri's: the page sets `onmessage`, the test sends. */
class FakeChannel {
  constructor() {
    /** @type {(message: any) => void} */
    this.onmessage = () => {};
  }
}

/**
 * A fake Tauri global that records calls.
 * @param {(cmd: string, args?: Record<string, unknown>) => Promise<unknown>} invoke
 */
function install(invoke) {
  /** @type {((event: TauriEvent<unknown>) => void)[]} */
  const handlers = [];
  globalThis.__TAURI__ = {
    core: { invoke: /** @type {any} */ (invoke), Channel: FakeChannel },
    event: {
      async listen(_event, handler) {
        handlers.push(/** @type {any} */ (handler));
        return () => {};
      },
    },
  };
  return handlers;
}

test('errors from commands keep their kind and message', () => {
  assert.deepEqual(toIpcError({ kind: 'NotFound', message: 'no site `x`' }), { kind: 'NotFound', message: 'no site `x`' });
});

test('anything else becomes Internal with a readable message', () => {
  assert.deepEqual(toIpcError('command get_site not allowed'), { kind: 'Internal', message: 'command get_site not allowed' });
  assert.deepEqual(toIpcError(new TypeError('boom')), { kind: 'Internal', message: 'boom' });
  assert.deepEqual(toIpcError({ kind: 'Weird', message: 'x' }), { kind: 'Internal', message: 'x' });
  assert.deepEqual(toIpcError(42), { kind: 'Internal', message: '42' });
  assert.deepEqual(toIpcError(undefined), { kind: 'Internal', message: 'undefined' });
});

test('without the app every call fails as Unavailable', async () => {
  assert.equal(isAvailable(), false);
  await assert.rejects(appInfo(), { kind: 'Unavailable', message: 'not running inside the app' });
  await assert.rejects(onBusChange(() => {}), { kind: 'Unavailable' });
});

test('commands are invoked by their Rust name with camelCase arguments', async () => {
  /** @type {[string, unknown][]} */
  const calls = [];
  install(async (cmd, args) => {
    calls.push([cmd, args]);
    return { id: 'tokyo' };
  });
  assert.equal(isAvailable(), true);
  assert.deepEqual(await getSite('tokyo'), { id: 'tokyo' });
  assert.deepEqual(calls, [['get_site', { siteId: 'tokyo' }]]);
});

test('a stream is opened by ids, with a channel whose messages reach the caller', async () => {
  /** @type {[string, any][]} */
  const calls = [];
  install(async (cmd, args) => {
    calls.push([cmd, args]);
    return cmd === 'open_stream' ? 7 : true;
  });
  /** @type {ArrayBuffer[]} */
  const got = [];
  const id = await openStream('hq', 'entrance', 'sub', (m) => got.push(m));
  assert.equal(id, 7);
  const [cmd, args] = calls[0];
  assert.equal(cmd, 'open_stream');
  assert.deepEqual({ ...args, channel: undefined }, { siteId: 'hq', cameraId: 'entrance', quality: 'sub', channel: undefined, fromMs: null });
  const message = new ArrayBuffer(12);
  args.channel.onmessage(message);
  assert.deepEqual(got, [message]);
  assert.equal(await closeStream(7), true);
  assert.deepEqual(calls[1], ['close_stream', { playerId: 7 }]);
  // From memory: the moment goes along.
  await openStream('hq', 'entrance', 'main', () => {}, 1_764_000_000_000);
  assert.equal(calls[2][1].fromMs, 1_764_000_000_000);
});

test('a rejected invoke is normalised', async () => {
  install(async () => {
    throw { kind: 'NotFound', message: 'no site `gone`' };
  });
  await assert.rejects(getSite('gone'), { kind: 'NotFound', message: 'no site `gone`' });
  install(async () => {
    throw 'invalid args `siteId` for command `get_site`';
  });
  await assert.rejects(getSite('x'), { kind: 'Internal' });
});

test('bus changes reach the callback as their payload', async () => {
  const handlers = install(async () => null);
  /** @type {unknown[]} */
  const seen = [];
  await onBusChange((change) => seen.push(change));
  handlers[0]({ event: 'bus-change', id: 1, payload: { type: 'site', siteId: 'a' } });
  assert.deepEqual(seen, [{ type: 'site', siteId: 'a' }]);
});

test('enrolment commands: their Rust names and camelCase arguments', async () => {
  /** @type {[string, unknown][]} */
  const calls = [];
  install(async (cmd, args) => {
    calls.push([cmd, args]);
    return cmd === 'list_profiles' ? [] : null;
  });
  assert.deepEqual(await listProfiles(), []);
  await enrol('MMR1.x', 'ABCDE-FGHJK');
  await removeProfile('0123abcd');
  assert.deepEqual(calls, [
    ['list_profiles', undefined],
    ['enrol', { code: 'MMR1.x', pin: 'ABCDE-FGHJK' }],
    ['remove_profile', { profileId: '0123abcd' }],
  ]);
});

test('an enrolment error keeps its kind, so the form can say what it means', async () => {
  install(async () => {
    throw { kind: 'PermissionDenied', message: 'this enrolment code was already used on this device; ask for a new one' };
  });
  await assert.rejects(enrol('MMR1.x', 'ABCDE-FGHJK'), { kind: 'PermissionDenied' });
});

test('list_alerts is asked for at most `limit` alerts', async () => {
  /** @type {[string, unknown][]} */
  const calls = [];
  install(async (cmd, args) => {
    calls.push([cmd, args]);
    return [];
  });
  assert.deepEqual(await listAlerts(200), []);
  assert.deepEqual(calls, [['list_alerts', { limit: 200 }]]);
});

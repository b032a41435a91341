import { test, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createStore } from '../www/js/store.js';
import { createActions } from '../www/js/actions.js';
import { initialState } from './fixtures.js';

afterEach(() => {
  globalThis.__TAURI__ = undefined;
});

/**
 * A Tauri global whose `set_start_at_login` answers only when the test says so.
 * @returns {{ enabled: boolean, answer: (ok: boolean) => void }[]}
 */
function heldToggles() {
  /** @type {{ enabled: boolean, answer: (ok: boolean) => void }[]} */
  const calls = [];
  globalThis.__TAURI__ = /** @type {any} */ ({
    core: {
      invoke: (/** @type {string} */ cmd, /** @type {any} */ args) => new Promise((resolve, reject) => {
        assert.equal(cmd, 'set_start_at_login');
        calls.push({
          enabled: args.enabled,
          answer: (ok) => (ok
            ? resolve({ tray: true, startAtLoginAvailable: true, startAtLogin: args.enabled })
            : reject({ kind: 'Internal', message: 'cannot write the autostart entry' })),
        });
      }),
    },
  });
  return calls;
}

const sync = /** @type {any} */ ({});
const shown = (/** @type {ReturnType<typeof createStore>} */ store) => store.get().background?.startAtLogin;

test('starting at login shows the tap at once, and keeps the latest of two quick taps', async () => {
  const calls = heldToggles();
  const store = createStore({ ...initialState(), background: { tray: true, startAtLoginAvailable: true, startAtLogin: false } });
  const actions = createActions(store, sync);
  const on = actions.setStartAtLogin(true);
  assert.equal(shown(store), true, 'a render before the answer must not undo the tap');
  const off = actions.setStartAtLogin(false);
  assert.equal(shown(store), false);
  // The answers come back out of order: the older one must not win.
  calls[1].answer(true);
  await off;
  calls[0].answer(true);
  await on;
  assert.equal(shown(store), false);
});

test('a refused change puts back what was shown before it', async () => {
  const calls = heldToggles();
  const store = createStore({ ...initialState(), background: { tray: true, startAtLoginAvailable: true, startAtLogin: false } });
  const actions = createActions(store, sync);
  const on = actions.setStartAtLogin(true);
  const error = console.error;
  console.error = () => {};
  try {
    calls[0].answer(false);
    await on;
  } finally {
    console.error = error;
  }
  assert.equal(shown(store), false);
});

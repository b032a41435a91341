import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMessage, streamText, createTimeMap } from '../www/js/player.js';
import { translate } from '../www/js/i18n.js';

/**
 * A channel message as src-tauri/src/player.rs writes it.
 * @param {number} kind
 * @param {number} flags
 * @param {number} timeMs
 * @param {Uint8Array} body
 */
function message(kind, flags, timeMs, body, mediaTicks = 0) {
  const out = new Uint8Array(18 + body.length);
  out[0] = kind;
  out[1] = flags;
  new DataView(out.buffer).setBigUint64(2, BigInt(timeMs));
  new DataView(out.buffer).setBigUint64(10, BigInt(mediaTicks));
  out.set(body, 18);
  return out.buffer;
}

test('init messages carry the MIME type and the init segment', () => {
  const mime = new TextEncoder().encode('video/mp4; codecs="avc1.42C01E"');
  const body = new Uint8Array(2 + mime.length + 3);
  new DataView(body.buffer).setUint16(0, mime.length);
  body.set(mime, 2);
  body.set([1, 2, 3], 2 + mime.length);
  const m = parseMessage(message(1, 0, 5, body));
  assert.equal(m.kind, 'init');
  if (m.kind !== 'init') return;
  assert.equal(m.mime, 'video/mp4; codecs="avc1.42C01E"');
  assert.deepEqual([...m.data], [1, 2, 3]);
});

test('media messages carry key and live flags, the wall-clock and the media time', () => {
  const m = parseMessage(message(2, 3, 1_764_000_000_123, new Uint8Array([9, 9]), 450_000));
  assert.deepEqual({ ...m, data: undefined }, { kind: 'media', key: true, live: true, timeMs: 1_764_000_000_123, mediaTime: 5, data: undefined });
  const delta = parseMessage(message(2, 0, 1, new Uint8Array([1])));
  assert.equal(delta.kind === 'media' && !delta.key && !delta.live, true);
});

test('status messages carry the stream state', () => {
  const status = { phase: 'failed', problem: 'unauthorized', sinceMs: 1, attempt: 2, codec: null, width: null, height: null };
  const m = parseMessage(message(3, 0, 1, new TextEncoder().encode(JSON.stringify(status))));
  assert.deepEqual(m, { kind: 'status', status });
});

test('malformed messages are unknown, never a throw', () => {
  assert.equal(parseMessage(new ArrayBuffer(3)).kind, 'unknown');
  assert.equal(parseMessage(message(9, 0, 0, new Uint8Array())).kind, 'unknown');
  assert.equal(parseMessage(message(1, 0, 0, new Uint8Array([0]))).kind, 'unknown');
  assert.equal(parseMessage(message(3, 0, 0, new TextEncoder().encode('{oops'))).kind, 'unknown');
});

test('every stream problem has words in both languages; a live stream shows none', () => {
  /** @type {import('../www/js/types.js').StreamProblem[]} */
  const problems = ['unauthorized', 'notFound', 'unreachable', 'unsupportedCodec', 'malformed', 'stalled', 'ended'];
  for (const problem of problems) {
    const status = { phase: /** @type {const} */ ('failed'), problem, sinceMs: 0, attempt: 1, codec: null, width: null, height: null };
    const text = streamText(status);
    assert.ok(text && !text.startsWith('stream.'), `${problem}: ${text}`);
    for (const lang of /** @type {const} */ (['en', 'ja'])) {
      assert.notEqual(translate(lang, `stream.problem.${problem}`), `stream.problem.${problem}`);
    }
  }
  assert.equal(streamText({ phase: 'live', problem: null, sinceMs: 0, attempt: 0, codec: 'avc1', width: 1, height: 1 }), null);
  assert.ok(streamText(null));
});

test('the time map turns media time into wall-clock time and back, across a reconnect', () => {
  const map = createTimeMap();
  assert.equal(map.wallAt(3), null, 'nothing known yet');
  // A replay from memory: its batch's last frame at media 10 s was taken at 1000000 ms.
  map.note(10, 1_000_000);
  assert.equal(map.wallAt(4), 994_000);
  assert.equal(map.mediaAt(994_000), 4);
  map.note(11, 1_001_000);
  // A reconnect: the camera's session restarted; media time goes on, the clock jumped 5 s.
  map.note(12, 1_007_000);
  assert.equal(map.wallAt(12.5), 1_007_500);
  assert.equal(map.wallAt(10.5), 1_000_500);
  assert.equal(map.mediaAt(1_007_200), 12.2);
  map.clear();
  assert.equal(map.mediaAt(1), null);
  for (let i = 0; i < 1000; i++) map.note(i, i * 1000);
  assert.ok(map.size() <= 64, 'bounded');
});

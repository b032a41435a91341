import { test } from 'node:test';
import assert from 'node:assert/strict';
import { boxes, decoderConfig, firstSample } from '../www/js/still.js';

/**
 * An ISO BMFF box.
 * @param {string} type
 * @param {...Uint8Array} parts
 */
function box(type, ...parts) {
  const size = 8 + parts.reduce((n, p) => n + p.length, 0);
  const out = new Uint8Array(size);
  new DataView(out.buffer).setUint32(0, size);
  out.set(new TextEncoder().encode(type), 4);
  let at = 8;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

const AVCC = new Uint8Array([1, 0x42, 0xc0, 0x1e, 0xff, 0xe1, 0, 4, 0x67, 0x42, 0xc0, 0x1e]);

/** An init segment shaped like the core's (crates/core/src/video/fmp4.rs). */
function init(entry = 'avc1', config = 'avcC') {
  const sampleEntry = box(entry, new Uint8Array(78), box(config, AVCC), box('pasp', new Uint8Array(8)));
  const stsd = box('stsd', new Uint8Array([0, 0, 0, 0, 0, 0, 0, 1]), sampleEntry);
  const stbl = box('stbl', stsd, box('stts', new Uint8Array(8)));
  const trak = box('trak', box('tkhd', new Uint8Array(84)), box('mdia', box('mdhd', new Uint8Array(24)), box('minf', box('vmhd', new Uint8Array(12)), stbl)));
  return new Uint8Array([...box('ftyp', new TextEncoder().encode('iso5')), ...box('moov', box('mvhd', new Uint8Array(100)), trak, box('mvex'))]);
}

test('the decoder configuration is the codec of the MIME type and the avcC of the init segment', () => {
  const config = decoderConfig('video/mp4; codecs="avc1.42C01E"', init());
  assert.equal(config?.codec, 'avc1.42C01E');
  assert.deepEqual([...(config?.description ?? [])], [...AVCC]);
});

test('H.265 sample entries give their hvcC', () => {
  const config = decoderConfig('video/mp4; codecs="hvc1.1.6.L93.B0"', init('hvc1', 'hvcC'));
  assert.equal(config?.codec, 'hvc1.1.6.L93.B0');
  assert.deepEqual([...(config?.description ?? [])], [...AVCC]);
});

test('a damaged or foreign init segment gives no configuration, never an error', () => {
  const good = init();
  assert.equal(decoderConfig('video/mp4', good), null, 'no codecs parameter');
  assert.equal(decoderConfig('video/mp4; codecs="mp4a.40.2"', init('mp4a', 'esds')), null);
  for (let cut = 0; cut < good.length; cut += 7) {
    assert.equal(decoderConfig('video/mp4; codecs="avc1.42C01E"', good.subarray(0, cut)), null, `cut at ${cut}`);
  }
  // The moov box (right after ftyp) claiming 4 GiB.
  const lying = good.slice();
  const view = new DataView(lying.buffer);
  view.setUint32(view.getUint32(0), 0xffff_ffff);
  assert.equal(decoderConfig('video/mp4; codecs="avc1.42C01E"', lying), null);
  const noise = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251);
  assert.equal(decoderConfig('video/mp4; codecs="avc1.42C01E"', noise), null);
});

test('the first sample is the mdat of the first fragment', () => {
  const fragment = (/** @type {number[]} */ sample) => [...box('moof', box('mfhd', new Uint8Array(8))), ...box('mdat', new Uint8Array(sample))];
  const media = new Uint8Array([...fragment([1, 2, 3]), ...fragment([4, 5])]);
  assert.deepEqual([...(firstSample(media) ?? [])], [1, 2, 3]);
  assert.equal(firstSample(new Uint8Array(fragment([1, 2, 3])).subarray(0, 20)), null, 'truncated');
  assert.equal(firstSample(box('mdat', new Uint8Array([1]))), null, 'no moof');
  assert.equal(firstSample(new Uint8Array(0)), null);
});

test('boxes: 64-bit sizes, a last box to the end, and a stop at a box that does not fit', () => {
  const large = new Uint8Array(20);
  const view = new DataView(large.buffer);
  view.setUint32(0, 1);
  large.set(new TextEncoder().encode('mdat'), 4);
  view.setBigUint64(8, 20n);
  assert.deepEqual(boxes(large).map(([t, b]) => [t, b.length]), [['mdat', 4]]);
  const toEnd = box('free', new Uint8Array(4));
  new DataView(toEnd.buffer).setUint32(0, 0);
  assert.deepEqual(boxes(toEnd).map(([t, b]) => [t, b.length]), [['free', 4]]);
  const tooSmall = box('free');
  new DataView(tooSmall.buffer).setUint32(0, 3);
  assert.deepEqual(boxes(tooSmall), []);
});

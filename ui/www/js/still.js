// A camera's first picture at once. The core starts every stream with the cached key
// frame; the web view's media pipeline (MSE) needs 100–150 ms to build itself and preroll
// before it paints that frame, and in WebKitGTK building it holds up the page's rendering
// (measured by tests/bench/switch.mjs). Where the engine has WebCodecs, the key frame is
// decoded here on its own and drawn on a canvas; the player attaches its media pipeline
// once the still is on screen (or given up), and the video takes over as soon as it paints
// its own first frame.
//
// Everything read here comes from the core's own fMP4 writer, but it is still read
// defensively: a malformed box ends the walk, and anything unexpected means no still
// (the video shows the frame a little later), never an error.

/**
 * The boxes of an ISO BMFF buffer, in order, as [type, body]; stops at the first box
 * whose size does not fit.
 * @param {Uint8Array} bytes
 * @returns {[string, Uint8Array][]}
 */
export function boxes(bytes) {
  /** @type {[string, Uint8Array][]} */
  const out = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + 8 <= bytes.length) {
    let size = view.getUint32(at);
    let header = 8;
    if (size === 1) {
      if (at + 16 > bytes.length) break;
      size = Number(view.getBigUint64(at + 8));
      header = 16;
    } else if (size === 0) {
      size = bytes.length - at;
    }
    if (size < header || at + size > bytes.length) break;
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    out.push([type, bytes.subarray(at + header, at + size)]);
    at += size;
  }
  return out;
}

/**
 * The body of the first box of a type.
 * @param {Uint8Array} bytes
 * @param {string} type
 */
function child(bytes, type) {
  return boxes(bytes).find(([t]) => t === type)?.[1] ?? null;
}

/** Bytes of a visual sample entry before its child boxes (ISO 14496-12 §12.1.3). */
const VISUAL_ENTRY = 78;
/** Sample entries and the box holding their decoder configuration. */
const CONFIG_BOX = /** @type {Record<string, string>} */ ({ avc1: 'avcC', avc3: 'avcC', hvc1: 'hvcC', hev1: 'hvcC' });

/**
 * The WebCodecs decoder configuration of a stream: the codec from its MIME type and the
 * decoder configuration record (avcC / hvcC) from its init segment.
 * @param {string} mime e.g. `video/mp4; codecs="avc1.42C01E"`
 * @param {Uint8Array} init
 * @returns {{ codec: string, description: Uint8Array } | null}
 */
export function decoderConfig(mime, init) {
  const codec = /codecs="?([^",;]+)/.exec(mime)?.[1];
  if (codec === undefined) return null;
  /** @type {Uint8Array | null} */
  let at = init;
  for (const type of ['moov', 'trak', 'mdia', 'minf', 'stbl', 'stsd']) {
    at = at && child(at, type);
  }
  // stsd: version and flags, entry count, then the entries.
  if (at === null || at.length < 8) return null;
  const [entry] = boxes(at.subarray(8));
  if (entry === undefined) return null;
  const [kind, body] = entry;
  const configBox = CONFIG_BOX[kind];
  if (configBox === undefined || body.length < VISUAL_ENTRY) return null;
  const description = child(body.subarray(VISUAL_ENTRY), configBox);
  return description === null ? null : { codec, description };
}

/**
 * The sample of the first fragment (moof + mdat) of a media message.
 * @param {Uint8Array} media
 */
export function firstSample(media) {
  const [moof, mdat] = boxes(media);
  if (moof?.[0] !== 'moof' || mdat?.[0] !== 'mdat' || mdat[1].length === 0) return null;
  return mdat[1];
}

/**
 * The still of one player: a canvas, hidden until a key frame is drawn on it. Once per
 * attempt, `settled` is called with the time of the frame in which the picture reached
 * the screen, or with null when there is no still (nothing to decode, it failed, or
 * `decodes` is off).
 * @param {(paintedAt: number | null) => void} settled
 * @param {boolean} decodes whether to decode key frames (WebCodecs) at all: each costs a
 *   decoder, worth it for the camera the user just chose, not for every tile of a grid
 */
export function createStill(settled, decodes) {
  const canvas = /** @type {HTMLCanvasElement} */ (document.createElement('canvas'));
  canvas.className = 'still';
  canvas.hidden = true;
  canvas.setAttribute('aria-hidden', 'true');
  const supported = decodes && typeof VideoDecoder === 'function' && typeof EncodedVideoChunk === 'function';
  /** @type {{ codec: string, description: Uint8Array } | null} */
  let config = null;
  /** Whether this attempt has had its key frame (drawn or not): one try per attempt. */
  let tried = false;
  /** Which attempt a decoder's output belongs to. */
  let attempt = 0;
  /** Whether this attempt has been settled. */
  let done = false;

  /** @param {number | null} at */
  function settle(at) {
    if (done) return;
    done = true;
    settled(at);
  }

  /** @param {Uint8Array} sample */
  function decode(sample) {
    const mine = attempt;
    try {
      const decoder = new VideoDecoder({
        output(frame) {
          if (mine === attempt) {
            canvas.width = frame.displayWidth;
            canvas.height = frame.displayHeight;
            canvas.getContext('2d')?.drawImage(frame, 0, 0);
            canvas.hidden = false;
            // Painted in the frame of this callback; what follows (the player attaches
            // its media pipeline) waits for a task after that paint.
            requestAnimationFrame(() => {
              const at = performance.now();
              setTimeout(() => {
                if (mine === attempt) settle(canvas.hidden ? null : at);
              });
            });
          }
          frame.close();
        },
        error() {
          if (mine === attempt) settle(null);
        },
      });
      decoder.configure({ codec: config?.codec ?? '', description: config?.description, optimizeForLatency: true });
      decoder.decode(new EncodedVideoChunk({ type: 'key', timestamp: 0, data: sample }));
      decoder.flush().catch(() => {}).finally(() => {
        if (decoder.state !== 'closed') decoder.close();
        // Flushed without a picture: nothing will come.
        if (mine === attempt && canvas.hidden) settle(null);
      });
    } catch {
      // Not decodable here: the video shows the frame a little later.
      settle(null);
    }
  }

  return {
    el: canvas,
    /** Whether this engine can draw stills at all (the player need not wait for one). */
    supported,
    /**
     * Takes the stream's messages until it has tried its key frame.
     * @param {import('./player.js').Message} m
     */
    take(m) {
      if (!supported || tried) return;
      if (m.kind === 'init') {
        config = decoderConfig(m.mime, m.data);
        if (config === null) settle(null);
      } else if (m.kind === 'media' && config !== null) {
        tried = true;
        const sample = m.key ? firstSample(m.data) : null;
        if (sample !== null) decode(sample);
        else settle(null);
      }
    },
    /** The video paints on its own now. */
    hide() {
      attempt += 1;
      tried = true;
      done = true;
      canvas.hidden = true;
    },
    /** A new attempt of the same player (its stream restarted). */
    reset() {
      attempt += 1;
      tried = false;
      done = false;
      config = null;
      canvas.hidden = true;
    },
  };
}

// Live camera video. The core sends a camera's stream as fragmented MP4 over a channel
// (an init segment, then one fragment per frame, starting with the cached key frame), with
// the stream's state between them; this module feeds it to a <video> through Media Source
// Extensions (`ManagedMediaSource ?? MediaSource`), keeps playback at the live edge and
// trims what was played. A camera is named by site and camera id only.
//
// Players live outside the re-rendered regions: a view asks `players.view(...)` for the
// element of a camera and gets the same one every render, so re-rendering never restarts
// video. Players whose element left the page are closed by `sweep()`; players the user
// cannot see (under a camera full screen, in a hidden tab) stop their stream until they
// show again: they would cost the page every frame.

import { h } from './dom.js';
import { t } from './i18n.js';
import { createStill } from './still.js';

/**
 * @typedef {import('./api.js').Api} Api
 * @typedef {import('./types.js').StreamStatus} StreamStatus
 * @typedef {import('./types.js').StreamQuality} StreamQuality
 */

/** Message kinds of the player channel (src-tauri/src/player.rs). */
const INIT = 1;
const MEDIA = 2;
const STATUS = 3;
const HEADER = 18;
/** Media time's clock (ticks a second) in the message header. */
const TIMESCALE = 90000;
/** How far back a camera's memory goes (seconds; the core's default). */
export const MEMORY_SECONDS = 60;

/** Playback further than this behind the newest frame jumps to it (seconds). */
const MAX_LAG = 0.5;
/** Played video kept in the buffer (seconds). */
const KEEP = 10;
/** Fragments waiting to be appended before the player drops to the next key frame. */
const MAX_QUEUE = 90;
/** Longest wait for the still before the media pipeline is attached anyway (ms). */
const STILL_WAIT = 300;
/** Wait before a player whose media pipeline failed starts afresh (ms). */
const RESTART_DELAY = 500;
/** How long a stream may take to play before its tile shows a snapshot, and how often the
 * snapshot is refreshed while the stream does not play (ms). */
const SNAPSHOT_AFTER = 2000;
const SNAPSHOT_EVERY = 10000;

/**
 * @typedef {{ kind: 'init', mime: string, data: Uint8Array<ArrayBuffer> }
 *   | { kind: 'media', key: boolean, live: boolean, timeMs: number, mediaTime: number, data: Uint8Array<ArrayBuffer> }
 *   | { kind: 'status', status: StreamStatus }
 *   | { kind: 'unknown' }} Message
 */

/**
 * Reads one channel message.
 * @param {ArrayBuffer} buffer
 * @returns {Message}
 */
export function parseMessage(buffer) {
  const bytes = new Uint8Array(buffer);
  if (bytes.length < HEADER) return { kind: 'unknown' };
  const view = new DataView(buffer);
  const timeMs = Number(view.getBigUint64(2));
  const body = bytes.subarray(HEADER);
  switch (bytes[0]) {
    case INIT: {
      if (body.length < 2) return { kind: 'unknown' };
      const len = view.getUint16(HEADER);
      const mime = new TextDecoder().decode(body.subarray(2, 2 + len));
      return { kind: 'init', mime, data: body.subarray(2 + len) };
    }
    case MEDIA: {
      const mediaTime = Number(view.getBigUint64(10)) / TIMESCALE;
      return { kind: 'media', key: (bytes[1] & 1) !== 0, live: (bytes[1] & 2) !== 0, timeMs, mediaTime, data: body };
    }
    case STATUS:
      try {
        return { kind: 'status', status: JSON.parse(new TextDecoder().decode(body)) };
      } catch {
        return { kind: 'unknown' };
      }
    default:
      return { kind: 'unknown' };
  }
}

/**
 * What a tile says about its stream, or null while it plays.
 * @param {StreamStatus | null} status
 * @returns {string | null}
 */
export function streamText(status) {
  if (status === null) return t('stream.connecting');
  switch (status.phase) {
    case 'live':
      return null;
    case 'connecting':
      return status.problem ? t(`stream.problem.${status.problem}`) : t('stream.connecting');
    case 'failed':
      return status.problem ? t(`stream.problem.${status.problem}`) : t('stream.failed');
    case 'closed':
      return t('stream.closed');
  }
}

/** Most time anchors a player keeps. */
const MAX_ANCHORS = 64;

/**
 * Media time ↔ wall-clock time of one player, from the anchors its messages bring (a
 * frame's media time and when it was taken). Linear between reconnects; each anchor
 * speaks for the media after it.
 */
export function createTimeMap() {
  /** @type {[number, number][]} [media seconds, ms since the Unix epoch], oldest first */
  let anchors = [];
  /**
   * The anchor in force at `value` on axis `axis` (0 media, 1 wall): the last at or
   * before it, else the first.
   * @param {0 | 1} axis
   * @param {number} value
   */
  const at = (axis, value) => {
    let found = anchors[0];
    for (const a of anchors) if (a[axis] <= value) found = a;
    return found;
  };
  return {
    /** @param {number} media @param {number} wallMs */
    note(media, wallMs) {
      anchors.push([media, wallMs]);
      if (anchors.length > MAX_ANCHORS) anchors = anchors.slice(-MAX_ANCHORS / 2);
    },
    clear() {
      anchors = [];
    },
    size: () => anchors.length,
    /** @param {number} media @returns {number | null} */
    wallAt(media) {
      const a = at(0, media);
      return a === undefined ? null : a[1] + (media - a[0]) * 1000;
    },
    /** @param {number} wallMs @returns {number | null} */
    mediaAt(wallMs) {
      const a = at(1, wallMs);
      return a === undefined ? null : a[0] + (wallMs - a[1]) / 1000;
    },
  };
}

/**
 * @param {Api} api
 */
export function createPlayers(api) {
  /** @type {Map<string, ReturnType<typeof createPlayer>>} */
  const players = new Map();
  return {
    /**
     * The element showing a camera (created and started on first use).
     * @param {string} siteId
     * @param {string} cameraId
     * @param {StreamQuality} quality
     * @param {boolean} [hasSnapshot] the camera has a snapshot endpoint: shown while the stream does not play
     */
    view(siteId, cameraId, quality, hasSnapshot = false) {
      const key = `${siteId}/${cameraId}/${quality}`;
      let p = players.get(key);
      if (!p) {
        p = createPlayer(api, siteId, cameraId, quality, hasSnapshot);
        players.set(key, p);
      }
      return p.el;
    },
    /**
     * Plays a camera's player from its memory at `fromMs` (null: live again), with the
     * moment `markMs` (an alert's) marked on its time line.
     * @param {string} siteId
     * @param {string} cameraId
     * @param {StreamQuality} quality
     * @param {number | null} fromMs
     * @param {number | null} [markMs]
     */
    replay(siteId, cameraId, quality, fromMs, markMs = null) {
      players.get(`${siteId}/${cameraId}/${quality}`)?.replay(fromMs, markMs);
    },
    /** Closes players no longer on the page; suspends those hidden on it and resumes
     * those shown again. */
    sweep() {
      for (const [key, p] of players) {
        if (!p.el.isConnected) {
          p.close();
          players.delete(key);
        } else if (shown(p.el)) {
          p.resume();
        } else {
          p.suspend();
        }
      }
    },
    /** Closes every player (e.g. the session changed). */
    closeAll() {
      for (const p of players.values()) p.close();
      players.clear();
    },
  };
}

/**
 * Whether an element on the page can be seen (not in a hidden subtree, not
 * `visibility: hidden`).
 * @param {HTMLElement} el
 */
function shown(el) {
  return typeof el.checkVisibility === 'function'
    ? el.checkVisibility({ visibilityProperty: true })
    : el.closest('[hidden]') === null && getComputedStyle(el).visibility !== 'hidden';
}

/**
 * @param {Api} api
 * @param {string} siteId
 * @param {string} cameraId
 * @param {StreamQuality} quality
 * @param {boolean} hasSnapshot
 */
function createPlayer(api, siteId, cameraId, quality, hasSnapshot) {
  const video = /** @type {HTMLVideoElement} */ (h('video', { attrs: { muted: true, playsinline: true, autoplay: true, 'aria-hidden': 'true' } }));
  video.muted = true;
  video.disableRemotePlayback = true;
  const stateEl = h('span', { class: 'stream-state', testid: 'stream-state' });
  // The camera's snapshot, behind the state text, while the stream does not play.
  const snapshotEl = /** @type {HTMLImageElement} */ (h('img', { class: 'snapshot', testid: 'snapshot', attrs: { alt: '', hidden: true } }));
  // The cached key frame, drawn at once before the video's pipeline starts (still.js), for
  // the camera chosen full screen; tiles start their pipelines at once, as a grid's worth
  // of decoders starting together (a site opened, a tab shown again) would hold up the page.
  const still = createStill((at) => {
    if (at !== null) pictured(at, 'still');
    attach();
  }, quality === 'main');
  // The camera full screen can go back in time and save clips.
  const timeline = quality === 'main' ? createTimeline(api, siteId, cameraId, {
    scrub: (fromMs) => replay(fromMs, markMs),
    shownMs: () => shownMs,
  }) : null;
  const el = h('div', { class: 'player', testid: 'player', data: { phase: 'connecting', cameraId, quality } }, video, still.el, snapshotEl, stateEl, timeline?.el);

  /** Notes when this attempt's first picture reached the screen, and how (read by the
   * switch benchmark, tests/bench/switch.mjs).
   * @param {number} at
   * @param {'still' | 'video'} by */
  function pictured(at, by) {
    if (el.dataset.pictureAt !== undefined) return;
    el.dataset.pictureAt = String(at);
    el.dataset.pictureBy = by;
  }
  /** @type {ReturnType<typeof setTimeout> | null} */
  let snapshotTimer = null;

  /** Shows a snapshot while the stream does not play (refreshed now and then); hides it
   * once the stream plays. One timer at most: a fetch, or the wait before the next. */
  function snapshots() {
    const playing = status?.phase === 'live' && video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA;
    if (playing || closed || suspended || !hasSnapshot) {
      if (snapshotTimer !== null) clearTimeout(snapshotTimer);
      snapshotTimer = null;
      snapshotEl.hidden = true;
      return;
    }
    if (snapshotTimer === null) snapshotTimer = setTimeout(fetchSnapshot, el.dataset.snapshot === undefined ? SNAPSHOT_AFTER : 0);
  }

  function fetchSnapshot() {
    api.getSnapshot(siteId, cameraId).then(
      (jpeg) => {
        if (closed) return;
        const old = snapshotEl.src;
        snapshotEl.src = URL.createObjectURL(new Blob([jpeg], { type: 'image/jpeg' }));
        if (old) URL.revokeObjectURL(old);
        el.dataset.snapshot = 'shown';
      },
      () => {
        el.dataset.snapshot = 'failed';
      },
    ).finally(() => {
      snapshotTimer = null;
      if (closed) return;
      // Still not playing: hold the timer slot while waiting for the next refresh.
      snapshotTimer = setTimeout(() => {
        snapshotTimer = null;
        snapshots();
      }, SNAPSHOT_EVERY);
      const playing = status?.phase === 'live' && video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA;
      snapshotEl.hidden = playing || el.dataset.snapshot !== 'shown';
    });
  }
  video.addEventListener('playing', snapshots);
  /** @type {StreamStatus | null} */
  let status = null;
  /** @type {number | null} */
  let playerId = null;
  let closed = false;
  /** Hidden from the user: nothing is sent until shown again. */
  let suspended = false;
  /** The suspended player in the core, which keeps the stream open until the player
   * shows again (or closes). */
  /** @type {number | null} */
  let heldId = null;
  /** @type {SourceBuffer | null} */
  let sb = null;
  /** @type {string | null} */
  let mime = null;
  /** @type {Uint8Array<ArrayBuffer>[]} */
  let queue = [];
  let waitKey = false;
  /** Wall-clock time of the newest frame appended, for the page (and tests) to read. */
  let lastFrameMs = 0;
  /** Playing from memory from this moment (wall clock), or live (null). */
  let replayFrom = /** @type {number | null} */ (null);
  /** A moment marked on the time line (the alert's). */
  let markMs = /** @type {number | null} */ (null);
  /** Whether playback from memory has been placed at its moment yet. */
  let placed = false;
  /** Wall-clock time of the frame on screen (0 until known). */
  let shownMs = 0;
  const times = createTimeMap();

  function show() {
    const text = streamText(status);
    el.dataset.phase = status?.phase ?? 'connecting';
    el.dataset.problem = status?.problem ?? '';
    if (status?.codec) el.dataset.codec = status.codec;
    stateEl.textContent = text ?? '';
    stateEl.hidden = text === null;
    snapshots();
  }
  show();

  // ManagedMediaSource (Safari, WebKit) lets the engine manage memory and power; where it
  // is missing, plain MediaSource.
  const MS = /** @type {{ ManagedMediaSource?: typeof MediaSource }} */ (/** @type {unknown} */ (globalThis)).ManagedMediaSource ?? globalThis.MediaSource;
  if (MS === undefined) {
    status = null;
    stateEl.textContent = t('stream.unsupported');
    el.dataset.phase = 'unsupported';
    return { el, close() {}, suspend() {}, resume() {}, replay() {} };
  }
  /** @type {MediaSource} */
  let source;
  /** Whether this attempt's media source is attached. */
  let attached = false;
  /** Messages of this attempt that came before its media source opened (null once open):
   * the stream is asked for at once, and its first messages feed the still meanwhile. */
  /** @type {Message[] | null} */
  let early = [];
  /** Which attempt the channel messages belong to: a restarted player ignores the old one. */
  let generation = 0;

  /** Whether a picture of this attempt has been shown: until then no jump to the live
   * edge, so the cached key frame is painted at once rather than after decoding the GOP. */
  let presented = false;
  const frameCallbacks = typeof video.requestVideoFrameCallback === 'function';

  function start() {
    const mine = ++generation;
    presented = false;
    still.reset();
    delete el.dataset.pictureAt;
    delete el.dataset.pictureBy;
    if (frameCallbacks) {
      video.requestVideoFrameCallback((now) => {
        if (mine === generation) {
          presented = true;
          pictured(now, 'video');
          still.hide();
        }
        pump();
      });
    }
    sb = null;
    mime = null;
    queue = [];
    waitKey = false;
    delete el.dataset.liveFrom;
    delete el.dataset.liveKeyAt;
    times.clear();
    placed = false;
    early = [];
    attached = false;
    // The media pipeline is attached once the still is on screen: building it holds up
    // the page's rendering. Without stills, or if the still takes too long, at once.
    if (still.supported) setTimeout(() => mine === generation && attach(), STILL_WAIT);
    else attach();
    api.openStream(siteId, cameraId, quality, (buffer) => {
      if (mine !== generation) return;
      const m = parseMessage(buffer);
      still.take(m);
      if (early === null) onMessage(m);
      else if (early.length < MAX_QUEUE || m.kind !== 'media') early.push(m);
      // Too much before the source opened: the media waits for the next key frame.
      else early = early.filter((e) => e.kind !== 'media');
    }, replayFrom).then(
      (id) => {
        if (closed || mine !== generation) {
          // Suspended meanwhile: this player holds the stream in place of the older one.
          if (!closed && suspended) {
            release();
            heldId = id;
            void api.suspendStream(id).catch(() => {});
          } else {
            void api.closeStream(id).catch(() => {});
          }
          return;
        }
        playerId = id;
        release();
      },
      (e) => {
        stateEl.textContent = e.message;
        stateEl.hidden = false;
        el.dataset.phase = 'failed';
      },
    );
  }

  /** Lets go of the stream held while suspended (the new player holds it now). */
  function release() {
    if (heldId !== null) void api.closeStream(heldId).catch(() => {});
    heldId = null;
  }

  /** Attaches a new media source to the video (once per attempt); the messages that came
   * before it opened are then played. */
  function attach() {
    if (attached || closed) return;
    attached = true;
    const mine = generation;
    source = new MS();
    if (video.src.startsWith('blob:')) URL.revokeObjectURL(video.src);
    video.src = URL.createObjectURL(source);
    source.addEventListener('sourceopen', () => {
      if (mine !== generation) return;
      const waiting = early ?? [];
      early = null;
      waiting.forEach(onMessage);
    }, { once: true });
  }

  // The engine's media pipeline can fail on its own (WebKitGTK: "Failed to push buffer"
  // after a seek during an append): start afresh; the core's GOP cache makes it quick.
  video.addEventListener('error', () => {
    if (closed || suspended) return;
    el.dataset.restarts = String(Number(el.dataset.restarts ?? 0) + 1);
    if (playerId !== null) void api.closeStream(playerId).catch(() => {});
    playerId = null;
    generation += 1;
    setTimeout(() => {
      if (!closed && !suspended) start();
    }, RESTART_DELAY);
  });
  start();

  /** @param {Message} m */
  function onMessage(m) {
    if (closed) return;
    if (m.kind === 'status') {
      status = m.status;
      show();
    } else if (m.kind === 'init') {
      try {
        if (sb === null) {
          const created = source.addSourceBuffer(m.mime);
          created.mode = 'segments';
          created.addEventListener('updateend', pump);
          sb = created;
        } else if (m.mime !== mime) {
          sb.changeType(m.mime);
        }
        mime = m.mime;
        queue = [m.data];
        waitKey = true;
      } catch {
        stateEl.textContent = t('stream.codecUnsupported');
        stateEl.hidden = false;
        el.dataset.phase = 'unsupported';
        return;
      }
      pump();
    } else if (m.kind === 'media') {
      if (m.live && el.dataset.liveFrom === undefined) {
        // Where the cached GOP ends and live frames begin (seconds of media time), and when
        // the first live key frame came: a client without the cache could start no sooner.
        // Read by the switch benchmark (tests/bench/switch.mjs).
        const b = video.buffered;
        el.dataset.liveFrom = String(b.length > 0 ? b.end(b.length - 1) : 0);
      }
      if (m.live && m.key && el.dataset.liveKeyAt === undefined) el.dataset.liveKeyAt = String(performance.now());
      if (waitKey && !m.key) return;
      waitKey = false;
      if (queue.length > MAX_QUEUE) {
        // The decoder cannot keep up (or the page was hidden): skip to the next key frame.
        queue = [];
        waitKey = !m.key;
        if (waitKey) return;
      }
      queue.push(m.data);
      lastFrameMs = m.timeMs;
      times.note(m.mediaTime, m.timeMs);
      el.dataset.frameMs = String(lastFrameMs);
      pump();
    }
  }

  function pump() {
    if (sb === null || sb.updating || closed) return;
    chase();
    if (sb.updating) return;
    const next = queue.shift();
    if (next === undefined) return;
    try {
      sb.appendBuffer(next);
    } catch (e) {
      // Quota exceeded or the buffer is in a bad state: start again from the next key frame.
      el.dataset.appendError = e instanceof Error ? e.name : String(e);
      queue = [];
      waitKey = true;
    }
  }

  /** Keeps playback at the live edge and the buffer short. */
  function chase() {
    if (sb === null) return;
    const b = video.buffered;
    if (b.length === 0) return;
    if (video.paused) void video.play().catch(() => {});
    // No seek before the first picture is shown (the cached key frame, at once) nor during
    // a seek: WebKit's pipeline can fail when seeked while it prerolls. Without
    // requestVideoFrameCallback, a decoded current frame stands for "shown".
    if (!frameCallbacks) presented ||= video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA;
    if (!presented || video.seeking) return;
    const end = b.end(b.length - 1);
    const start = b.start(b.length - 1);
    if (replayFrom !== null) {
      // From memory: once, to the moment asked for (the stream starts at the key frame
      // before it); then playback runs at its own pace behind live.
      const target = placed ? null : times.mediaAt(replayFrom);
      if (target !== null && target <= end) {
        placed = true;
        video.currentTime = Math.max(start, target);
      } else if (video.currentTime < start) {
        video.currentTime = start;
      }
    } else if (video.currentTime < start || end - video.currentTime > MAX_LAG) {
      video.currentTime = Math.max(start, end - 0.05);
    }
    const first = b.start(0);
    if (video.currentTime - first > KEEP * 2) sb.remove(first, video.currentTime - KEEP);
  }

  /** The wall-clock time of the frame on screen, for the page, the time line and tests. */
  function tick() {
    const at = times.wallAt(video.currentTime);
    if (at === null) return;
    shownMs = Math.round(at);
    el.dataset.shownMs = String(shownMs);
    timeline?.update(shownMs, replayFrom !== null, markMs);
  }
  video.addEventListener('timeupdate', tick);

  /**
   * Plays from memory at `fromMs` (null: live again) in a new attempt.
   * @param {number | null} fromMs
   * @param {number | null} mark
   */
  function replay(fromMs, mark) {
    if (closed) return;
    replayFrom = fromMs;
    markMs = mark;
    el.dataset.replay = fromMs === null ? 'live' : String(fromMs);
    timeline?.update(fromMs ?? Date.now(), fromMs !== null, markMs);
    if (suspended) return;
    if (playerId !== null) void api.closeStream(playerId).catch(() => {});
    playerId = null;
    start();
  }

  return {
    el,
    replay,
    /** Stops the stream while the player cannot be seen; the video keeps its last frame. */
    suspend() {
      if (suspended || closed) return;
      suspended = true;
      el.dataset.suspended = 'true';
      generation += 1;
      queue = [];
      early = null;
      if (playerId !== null) {
        release();
        heldId = playerId;
        void api.suspendStream(playerId).catch(() => {});
      }
      playerId = null;
    },
    /** Shown again: a new attempt, starting from the cached key frame. */
    resume() {
      if (!suspended || closed) return;
      suspended = false;
      delete el.dataset.suspended;
      start();
    },
    close() {
      closed = true;
      timeline?.close();
      if (snapshotTimer !== null) clearTimeout(snapshotTimer);
      if (snapshotEl.src) URL.revokeObjectURL(snapshotEl.src);
      queue = [];
      if (playerId !== null) void api.closeStream(playerId).catch(() => {});
      release();
      if (video.src.startsWith('blob:')) URL.revokeObjectURL(video.src);
      video.removeAttribute('src');
      video.load();
    },
  };
}

/**
 * The time line under a camera shown full screen: a scrub bar back through the camera's
 * memory, the way back to live, the time of the frame on screen, an alert's moment marked,
 * and saving a clip.
 * @param {Api} api
 * @param {string} siteId
 * @param {string} cameraId
 * @param {{ scrub: (fromMs: number | null) => void, shownMs: () => number }} player
 */
function createTimeline(api, siteId, cameraId, player) {
  const scrub = /** @type {HTMLInputElement} */ (h('input', {
    class: 'timeline-scrub',
    testid: 'replay-scrub',
    attrs: { type: 'range', min: String(-MEMORY_SECONDS), max: '0', step: '1', value: '0', 'aria-label': t('replay.scrub') },
  }));
  const mark = h('span', { class: 'timeline-mark', testid: 'replay-alert', attrs: { hidden: true, title: t('replay.alert') } });
  const timeEl = h('span', { class: 'timeline-time', testid: 'replay-time' });
  const live = /** @type {HTMLButtonElement} */ (h('button', {
    class: 'control timeline-live',
    testid: 'replay-live',
    attrs: { type: 'button', disabled: true },
    text: t('replay.live'),
    on: { click: () => player.scrub(null) },
  }));
  const clipButton = /** @type {HTMLButtonElement} */ (h('button', {
    class: 'control timeline-clip',
    testid: 'clip-save',
    attrs: { type: 'button' },
    text: t('clip.save'),
    on: { click: () => void toggleClip() },
  }));
  const clipResult = h('span', { class: 'timeline-result', testid: 'clip-result', attrs: { role: 'status' } });
  let dragging = false;
  scrub.addEventListener('input', () => {
    dragging = true;
    const back = -Number(scrub.value);
    timeEl.textContent = back === 0 ? t('replay.live') : t('replay.ago', { seconds: back });
  });
  scrub.addEventListener('change', () => {
    dragging = false;
    const back = -Number(scrub.value);
    player.scrub(back === 0 ? null : Date.now() - back * 1000);
  });
  const el = h('div', { class: 'timeline', testid: 'timeline' },
    h('div', { class: 'timeline-track' }, scrub, mark),
    h('div', { class: 'timeline-row' }, timeEl, live, clipButton, clipResult));
  // A drag along the bar is not a swipe to the next camera.
  for (const type of /** @type {const} */ (['pointerdown', 'pointerup', 'pointercancel'])) {
    el.addEventListener(type, (e) => e.stopPropagation());
  }

  /** The clip being recorded: its id and when it started. */
  let recording = /** @type {{ id: string | null, since: number } | null} */ (null);
  /** @type {ReturnType<typeof setInterval> | null} */
  let clipTimer = null;
  async function toggleClip() {
    if (recording === null) {
      // The remembered seconds (from the moment on screen when going back), then what follows.
      const from = scrub.value === '0' ? Date.now() - MEMORY_SECONDS * 1000 : player.shownMs();
      recording = { id: null, since: Date.now() };
      clipResult.textContent = '';
      clipButton.dataset.recording = 'true';
      clipTimer = setInterval(showRecording, 1000);
      showRecording();
      try {
        recording.id = await api.startClip(siteId, cameraId, from);
      } catch (e) {
        endRecording();
        clipResult.textContent = /** @type {{ message?: string }} */ (e).message ?? String(e);
      }
      return;
    }
    if (recording.id === null) return;
    const id = recording.id;
    clipButton.disabled = true;
    clipButton.textContent = t('clip.saving');
    try {
      const clip = await api.stopClip(id);
      clipResult.textContent = t('clip.saved', { duration: duration(clip.durationMs) });
      clipResult.dataset.clipId = clip.id;
      clipResult.dataset.durationMs = String(clip.durationMs);
    } catch (e) {
      clipResult.textContent = /** @type {{ message?: string }} */ (e).message ?? String(e);
    }
    endRecording();
  }
  function showRecording() {
    if (recording !== null) clipButton.textContent = t('clip.stop', { duration: duration(Date.now() - recording.since) });
  }
  function endRecording() {
    recording = null;
    if (clipTimer !== null) clearInterval(clipTimer);
    clipTimer = null;
    delete clipButton.dataset.recording;
    clipButton.disabled = false;
    clipButton.textContent = t('clip.save');
  }

  return {
    el,
    /**
     * @param {number} shownMs wall-clock time of the frame on screen
     * @param {boolean} replaying
     * @param {number | null} markMs
     */
    update(shownMs, replaying, markMs) {
      const now = Date.now();
      live.disabled = !replaying;
      el.dataset.replaying = String(replaying);
      const back = Math.max(0, Math.min(MEMORY_SECONDS, Math.round((now - shownMs) / 1000)));
      if (!dragging) scrub.value = String(replaying ? -back : 0);
      const clock = formatSeconds(shownMs);
      timeEl.textContent = replaying ? `${t('replay.ago', { seconds: back })} · ${clock}` : `${t('replay.live')} · ${clock}`;
      const markBack = markMs === null ? null : (now - markMs) / 1000;
      mark.hidden = markBack === null || markBack < 0 || markBack > MEMORY_SECONDS;
      if (markBack !== null) {
        mark.dataset.atMs = String(markMs);
        // CSSOM, not a style attribute: the content security policy allows it.
        mark.style.left = `${(1 - markBack / MEMORY_SECONDS) * 100}%`;
      }
    },
    close() {
      if (recording?.id) void api.stopClip(recording.id).catch(() => {});
      endRecording();
    },
  };
}

/** "1:05" for 65 000 ms. @param {number} ms */
function duration(ms) {
  const s = Math.max(0, Math.round(ms / 1000));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** "14:05:09", the device's time of day. @param {number} ms */
function formatSeconds(ms) {
  return new Date(ms).toLocaleTimeString('en-GB', { hour12: false });
}

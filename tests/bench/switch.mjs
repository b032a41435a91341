// Warm camera switch in the real app (the demo, WebKitGTK under Xvfb, driven by
// tauri-driver), with the demo cameras at 1 s and at 4 s between key frames: tap a camera
// whose stream is already open → first picture painted, and → playing at the live edge.
// Baseline, in the same run and the same page: the arrival of the stream's next key frame
// after the tap, the earliest moment a client without Mimamori's GOP cache could start
// decoding (typical NVR clients wait for it).
//
// Also the app's cold start: launch → the site list with every demo site online, beside
// the same launch → the page's own first paint (what any web view costs before Mimamori
// has done anything).
//
// Run by scripts/bench (which provides Xvfb and a session bus); prints a table and writes
// target/bench/switch.json.

import { writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { TauriDriver, WebDriver, freePortPair, until } from "../e2e/harness.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const app = join(process.env.CARGO_TARGET_DIR ?? join(root, "target"), "debug", "mimamori-app");
const ROUNDS = 3;
/** Seconds between key frames of the demo cameras, one app run each. */
const GOPS = (process.env.GOPS ?? "1,4").split(",").map(Number);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Taps a tile inside the page and times what follows, all on the page's clock. */
const MEASURE = `
const [cameraId, done] = [arguments[0], arguments[arguments.length - 1]];
const tile = document.querySelector('[data-testid="camera-tile"][data-camera-id="' + cameraId + '"]');
const t0 = performance.now();
tile.click();
const deadline = t0 + 15000;
let finished = false;
function result(live) {
  if (finished) return;
  // The baseline needs the next key frame, which may come after the live edge is reached.
  const p = document.querySelector('[data-testid="camera-view"] [data-testid="player"]');
  if (p && p.dataset.liveKeyAt === undefined && performance.now() < deadline) return requestAnimationFrame(() => result(live));
  finished = true;
  const v = p && p.querySelector('video');
  const state = v && { phase: p.dataset.phase, ready: v.readyState, time: v.currentTime, paused: v.paused,
    error: v.error && (v.error.code + ' ' + v.error.message), appendError: p.dataset.appendError,
    buffered: [...Array(v.buffered.length).keys()].map((i) => [v.buffered.start(i), v.buffered.end(i)]) };
  // The player notes when its first picture reached the screen: the cached key frame,
  // drawn as a still or painted by the video, whichever came first.
  const first = p && p.dataset.pictureAt !== undefined ? Number(p.dataset.pictureAt) - t0 : null;
  done({ first, by: p && p.dataset.pictureBy, live, keyWait: p && p.dataset.liveKeyAt ? Number(p.dataset.liveKeyAt) - t0 : null, state });
}
setTimeout(() => result(null), 15000);
(function wait() {
  const p = document.querySelector('[data-testid="camera-view"] [data-testid="player"]');
  const v = p && p.dataset.cameraId === cameraId ? p.querySelector('video') : null;
  if (!v) return performance.now() < deadline ? requestAnimationFrame(wait) : result(null);
  const onFrame = (now, meta) => {
    const liveFrom = Number(p.dataset.liveFrom);
    if (p.dataset.liveFrom !== undefined && meta.mediaTime >= liveFrom - 0.001) return result(now - t0);
    if (performance.now() > deadline) return result(null);
    v.requestVideoFrameCallback(onFrame);
  };
  v.requestVideoFrameCallback(onFrame);
})();`;

const rows = [];
for (const [run, gop] of GOPS.entries()) {
  const driver = new TauriDriver(await freePortPair(), { MIMAMORI_DEMO: "1", MIMAMORI_DEMO_GOP: String(gop), RUST_LOG: process.env.BENCH_LOG ?? "warn" });
  await driver.start();
  const wd = new WebDriver(driver.port);
  try {
    const launched = Date.now();
    await wd.open(app);
    await until("the demo sites online", () => wd.exec(`const cards = [...document.querySelectorAll('[data-testid="site-card"]')];
      return cards.length === 3 && cards.every((c) => c.dataset.link === 'online')`), 30000);
    const listed = Date.now() - launched;
    const painted = await wd.exec(`const paint = performance.getEntriesByType('paint')[0];
      const nav = performance.getEntriesByType('navigation')[0];
      return performance.timeOrigin + (paint ? paint.startTime : nav.domContentLoadedEventEnd)`) - launched;
    if (run === 0) rows.push({ figure: "cold start: launch → sites online", value: listed, unit: "ms", baseline: "launch → page first paint", baselineValue: painted, target: "—", met: true });
    await wd.click('[data-testid="site-card"][data-site-id="hq"]');
    const cameras = await until("hq's tiles playing", () => wd.exec(`const ps = [...document.querySelectorAll('[data-testid="site-page"] [data-testid="player"]')];
      return ps.length > 0 && ps.every((p) => p.dataset.phase === 'live') && ps.map((p) => p.dataset.cameraId)`), 30000);
    const warm = [];
    for (const camera of cameras) {
      // Open once so that the camera's main stream is running (the tile shows its sub
      // stream), then close: the stream stays open for the idle time.
      const cold = await wd.execAsync(MEASURE, camera);
      if (cold.first === null) throw new Error(`${camera}: no picture`);
      await wd.exec(`document.querySelector('[data-testid="camera-close"]').click()`);
      for (let round = 0; round < ROUNDS; round += 1) {
        await sleep(300 + Math.random() * gop * 1000); // anywhere in the GOP
        const m = await wd.execAsync(MEASURE, camera);
        if (m.first === null || m.keyWait === null) throw new Error(`${camera}: incomplete ${JSON.stringify(m)}`);
        warm.push(m);
        if (process.env.VERBOSE) console.log(gop, camera, JSON.stringify({ first: m.first, by: m.by, live: m.live, keyWait: m.keyWait }));
        await wd.exec(`document.querySelector('[data-testid="camera-close"]').click()`);
      }
    }
    const first = median(warm.map((m) => m.first));
    const live = median(warm.map((m) => m.live ?? Infinity));
    const keyWait = median(warm.map((m) => m.keyWait));
    rows.push({ figure: `warm switch, ${gop} s GOP: tap → first picture`, value: first, unit: "ms", baseline: "next key frame arrives", baselineValue: keyWait, target: "≤ 150 ms", met: first <= 150 });
    rows.push({ figure: `warm switch, ${gop} s GOP: tap → live edge`, value: live, unit: "ms", baseline: "next key frame arrives", baselineValue: keyWait, target: "≤ 1000 ms", met: live <= 1000 });
    console.log(`${warm.length} warm switches over ${cameras.length} cameras (${gop} s GOP)`);
  } finally {
    await wd.close();
    await driver.stop();
  }
}
console.log(`${"figure".padEnd(46)} ${"value".padStart(9)}  ${"baseline".padEnd(24)} ${"".padStart(9)} ${"ratio".padStart(7)}  target     met`);
for (const r of rows) {
  console.log(`${r.figure.padEnd(46)} ${`${r.value.toFixed(0)} ms`.padStart(9)}  ${r.baseline.padEnd(24)} ${`${r.baselineValue.toFixed(0)} ms`.padStart(9)} ${(r.value / r.baselineValue).toFixed(2).padStart(6)}×  ${r.target.padEnd(10)} ${r.met ? "yes" : "NO"}`);
}
mkdirSync(join(root, "target", "bench"), { recursive: true });
writeFileSync(join(root, "target", "bench", "switch.json"), JSON.stringify(rows.map((r) => ({ ...r, ratio: r.value / r.baselineValue })), null, 2));

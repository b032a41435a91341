// Channel or custom URI scheme? The two ways Tauri brings bytes from Rust to the web view,
// measured in the real app (WebKitGTK under Xvfb) with the transport probe
// (src-tauri/src/probe.rs, built with `--features transport-probe`):
//
// - one message: the page asks and waits for one message of the size of a P frame, a
//   key frame and a cached GOP — over a channel (what the player uses) and as the raw
//   answer of a fetch to the `ipc:` scheme (the shape of a long-poll transport);
// - a burst: 200 messages of a P frame's size, one after another (a channel pushes them;
//   a long-poll fetches them one by one).
//
// Run by scripts/bench; prints a table and writes target/bench/transport.json.

import { writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { TauriDriver, WebDriver, freePortPair, until } from "../e2e/harness.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const app = process.argv[2] ?? join(process.env.CARGO_TARGET_DIR ?? join(root, "target"), "debug", "mimamori-app");
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** In the page: `rounds` single messages of `size` bytes each way, then a burst of `burst`. */
const MEASURE = `
const [size, rounds, burst, done] = arguments;
const { invoke, Channel } = window.__TAURI__.core;
async function viaChannel(count) {
  const t0 = performance.now();
  let got = 0;
  await new Promise((resolve, reject) => {
    const channel = new Channel();
    channel.onmessage = (m) => { got += 1; if (m.byteLength !== size) reject(new Error('size ' + m.byteLength)); if (got === count) resolve(); };
    invoke('transport_channel', { size, count, channel }).catch(reject);
  });
  return performance.now() - t0;
}
async function viaFetch(count) {
  const t0 = performance.now();
  for (let i = 0; i < count; i += 1) {
    const m = await invoke('transport_fetch', { size });
    if (m.byteLength !== size) throw new Error('size ' + m.byteLength);
  }
  return performance.now() - t0;
}
(async () => {
  const channel = [];
  const fetched = [];
  for (let i = 0; i < rounds; i += 1) {
    channel.push(await viaChannel(1));
    fetched.push(await viaFetch(1));
  }
  const burstChannel = burst ? await viaChannel(burst) : null;
  const burstFetch = burst ? await viaFetch(burst) : null;
  done({ channel, fetched, burstChannel, burstFetch });
})().catch((e) => done({ error: String(e) }));`;

const driver = new TauriDriver(await freePortPair(), { MIMAMORI_DEMO: "1", RUST_LOG: "warn" });
await driver.start();
const wd = new WebDriver(driver.port);
const rows = [];
try {
  await wd.open(app);
  await until("the page", () => wd.exec(`return document.querySelectorAll('[data-testid="site-card"]').length === 3`), 30000);
  for (const [label, size, burst] of [["P frame, 4 KB", 4096, 200], ["key frame, 64 KB", 65536, 0], ["cached GOP, 512 KB", 524288, 0]]) {
    const r = await wd.execAsync(MEASURE, size, 30, burst);
    if (r.error) throw new Error(r.error);
    const channel = median(r.channel);
    const fetched = median(r.fetched);
    rows.push({ figure: `one message, ${label}: channel`, value: channel, unit: "ms", baseline: "fetch from the ipc: scheme", baselineValue: fetched, target: "—", met: true });
    if (burst) {
      rows.push({ figure: `${burst} × ${label}: channel`, value: r.burstChannel / burst, unit: "ms/message", baseline: "fetched one by one", baselineValue: r.burstFetch / burst, target: "—", met: true });
    }
  }
  console.log(`${"figure".padEnd(40)} ${"value".padStart(9)}  ${"baseline".padEnd(28)} ${"".padStart(9)} ${"ratio".padStart(7)}`);
  for (const r of rows) {
    console.log(`${r.figure.padEnd(40)} ${`${r.value.toFixed(2)} ms`.padStart(9)}  ${r.baseline.padEnd(28)} ${`${r.baselineValue.toFixed(2)} ms`.padStart(9)} ${(r.value / r.baselineValue).toFixed(2).padStart(6)}×`);
  }
  mkdirSync(join(root, "target", "bench"), { recursive: true });
  writeFileSync(join(root, "target", "bench", "transport.json"), JSON.stringify(rows.map((r) => ({ ...r, ratio: r.value / r.baselineValue })), null, 2));
} finally {
  await wd.close();
  await driver.stop();
}

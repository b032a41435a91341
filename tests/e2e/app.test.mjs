// End-to-end: the real Mimamori app (WebKitGTK under Xvfb, driven by tauri-driver and
// WebKitWebDriver) against a real Mosquitto, simulated sites running as processes and a
// gateway site (mimamori-gateway with its own broker, a door contact and a camera).
//
// Needs: DISPLAY (scripts/test starts Xvfb), mosquitto, tauri-driver, WebKitWebDriver, ffmpeg
// and a built workspace (target/debug/mimamori-app, mimamori-sim, mimamori-gateway).

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { setTimeout as sleep } from "node:timers/promises";
import { Gateway, GstRtspServer, Mosquitto, NotifyRecorder, PASSWORD, Site, SiteBroker, SnapshotServer, TauriDriver, WebDriver, freePort, freePortPair, killByEnvironment, makeTlsFiles, until as waitFor } from "./harness.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const targetDir = process.env.CARGO_TARGET_DIR ?? join(root, "target");
const app = join(targetDir, "debug", "mimamori-app");
const simBin = join(targetDir, "debug", "mimamori-sim");
const cli = join(targetDir, "debug", "mimamori");
const recorderBin = join(targetDir, "debug", "mimamori-notify-recorder");
const gatewayBin = join(targetDir, "debug", "mimamori-gateway");
/** The manager's broker password, planted to prove it never leaks. */
const CANARY = "CANARY-e2e-5d1c9a";
/** A camera password in the enrolment code, planted likewise. */
const CAMERA_CANARY = "CANARY-cam-77e0b2";
/** The app PIN chosen in the run; it must not reach a log or a file either. */
const PIN = "908172635441"; // 12 digits: a chance match in a log is one in a million
/** The app's settings directory, searched for secrets at the end. */
const configDir = mkdtempSync(join(tmpdir(), "mimamori-e2e-config-"));
/** The app's XDG config home: where starting at login writes its autostart entry. */
const xdgConfig = join(configDir, "xdg");
/** Where the app saves clips: searched for secrets with the settings. */
const clipsDir = join(configDir, "clips");
/** Page states seen during the run, searched for secrets at the end. */
const pages = [];
const keepPage = async () => pages.push(await wd.exec("return document.documentElement.outerHTML"));
/** The app's environment: also how the test finds the app's process to kill it. */
const appEnv = {
  MIMAMORI_CONFIG_DIR: configDir, MIMAMORI_CLIPS_DIR: clipsDir, XDG_CONFIG_HOME: xdgConfig, RUST_LOG: "debug,rumqttd=off",
};
const out = join(root, "tests", "e2e", "out");
mkdirSync(out, { recursive: true });

/** @type {Mosquitto} */ let broker;
/** @type {{ ca: string, cert: string, key: string }} */ let tls;
/** @type {Record<string, Site>} */ const sites = {};
/** GStreamer's RTSP server: an H.265 camera standing in for hq's entrance camera, and the
 * H.264 camera at the gateway site's front door. */
/** @type {GstRtspServer} */ let hevc;
/** The gateway site `office`: its broker (Zigbee2MQTT's), its camera's snapshot endpoint
 * (Digest, password CAMERA_CANARY) and the gateway. */
/** @type {SiteBroker} */ let officeBroker;
/** @type {SnapshotServer} */ let officeSnapshot;
/** @type {Gateway} */ let gateway;
/** The office's camera picture and the gateway's store. */
let officeDir = "";
/** The desktop's notification service, as the app meets it on the session bus. */
/** @type {NotifyRecorder} */ let notifications;
/** @type {TauriDriver} */ let driver;
/** @type {WebDriver} */ let wd;

const siteCards = () =>
  wd.exec(`return [...document.querySelectorAll('[data-testid="site-card"]')]
    .map(e => ({ id: e.getAttribute('data-site-id'), link: e.getAttribute('data-link'), text: e.textContent }))`);
const phase = () => wd.exec(`return document.querySelector('[data-testid="connection-bar"]')?.getAttribute('data-phase') ?? null`);
/** Polls `fn` until it returns a truthy value; when it never does, the error says which
 * taps the page saw last. */
const until = (what, fn, timeoutMs) => waitFor(what, fn, timeoutMs).catch(async (e) => {
  const events = wd ? await wd.exec("return (window.__events ?? []).slice(-12).join(', ')").catch(() => "?") : "?";
  throw new Error(`${e.message}; the page's last events: ${events}`);
});

/** Clicks once the element exists and can be clicked (views render asynchronously); when
 * it never can, says what the page showed. The element is first brought to the middle of
 * its scrolled view, as a user scrolls to what they tap: WebDriver would bring it to the
 * top edge, under the sticky header and an alert banner. */
const tap = (css) => until(`clickable ${css}`, async () => {
  await wd.exec(`document.querySelector(arguments[0])?.scrollIntoView({ block: 'center' })`, css);
  return wd.click(css).then(() => true);
}, 10000).catch(async (e) => {
  const shown = !wd ? "?" : await wd.exec(`const app = document.getElementById('app');
    return JSON.stringify({ ...app.dataset, camera: document.querySelector('[data-testid="camera-view"]')?.dataset.cameraId ?? null,
      focus: document.activeElement?.dataset?.testid ?? document.activeElement?.tagName })`).catch(() => "?");
  const shot = join(out, `failed-tap-${Date.now()}.png`);
  await wd?.screenshot(shot).catch(() => {});
  throw new Error(`${e.message}; the page: ${shown} (${shot})`);
});
/** Taps `css` until `done()` holds: for targets in a list that new alerts push down, where
 * a tap aimed at a row can land on the one before it. */
async function tapUntil(css, what, done, timeoutMs = 20000) {
  return until(what, async () => {
    if (await done()) return true;
    await wd.click(css).catch(() => {});
    await sleep(500);
    return done();
  }, timeoutMs);
}
/** An enrolment code for `user` on the test broker (password: the canary), made with the
 * CLI as an administrator would: { code, link, pin }. */
const makeCode = (user, sites, label, extra = []) => JSON.parse(execFileSync(cli, [
  "enroll", "create", "--broker", `mqtts://localhost:${broker.port}`, "--broker-ca", tls.ca, "--user", user,
  ...sites.flatMap((s) => ["--site", s]), "--label", label, ...extra, "--json",
], { env: { ...process.env, MIMAMORI_ENROL_PASSWORD: CANARY } }).toString());
const linkOf = async (id) => (await siteCards()).find((c) => c.id === id)?.link;

/** The gateway site `office`, as an installer sets it up: a door contact on Zigbee2MQTT
 * (its own broker) in the front zone, seen by the front camera, which has an RTSP stream and
 * a snapshot endpoint behind Digest; the central broker over TLS, pinned to its CA. */
async function startOffice() {
  officeBroker = new SiteBroker(await freePort());
  await officeBroker.start();
  officeDir = mkdtempSync(join(tmpdir(), "mimamori-e2e-office-"));
  const jpeg = join(officeDir, "front.jpg");
  execFileSync("ffmpeg", ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=640x360", "-frames:v", "1", jpeg]);
  officeSnapshot = new SnapshotServer(join(root, "crates", "sim", "testdata", "snapshot-server.py"), jpeg, "admin", CAMERA_CANARY);
  await officeSnapshot.start();
  gateway = new Gateway(gatewayBin, `# The office, from its own devices.
[site]
id = "office"
name = "東京事務所"
time_zone = "Asia/Tokyo"
store = "${join(officeDir, "office.db")}"
language = "ja"

[central]
url = "mqtts://localhost:${broker.port}"
ca = "${tls.ca}"

[roles]
owner = "admin"

[local]
url = "mqtt://127.0.0.1:${officeBroker.port}"

[[zone]]
id = "front"
name = "正面"

[[camera]]
id = "front-cam"
name = "正面カメラ"
zone = "front"
main = "${hevc.url("h264-1s")}"
snapshot = "${officeSnapshot.url}"

[[sensor]]
device = "front_door"
name = "正面扉"
zone = "front"
camera = "front-cam"
`, { "central-password": PASSWORD, "camera-front-cam": `admin:${CAMERA_CANARY}` });
  await gateway.start();
}

before(async () => {
  // The app reaches the broker only over TLS, trusting the CA its enrolment code carries;
  // the simulated sites use a plain loopback listener beside it.
  tls = makeTlsFiles(mkdtempSync(join(tmpdir(), "mimamori-e2e-tls-")));
  chmodSync(dirname(tls.key), 0o755);
  chmodSync(tls.key, 0o644); // Mosquitto drops root and must read it
  broker = new Mosquitto(cli, await freePort(), CANARY, tls, await freePort());
  await broker.start();
  hevc = new GstRtspServer(join(root, "crates", "sim", "testdata", "gst-rtsp-server.py"), await freePort(), ["h265", "h264-1s"]);
  await hevc.start();
  await startOffice();
  for (const id of ["hq", "warehouse", "shop"]) {
    // hq's entrance is an H.265 camera; its parking camera's stream is unreachable, but
    // its snapshot endpoint answers.
    const extra = id === "hq"
      ? ["--camera-url", `hq/entrance=${hevc.url("h265")}`, "--camera-url", `hq/parking=rtsp://127.0.0.1:${await freePort()}/gone`]
      : [];
    sites[id] = new Site(simBin, broker.plainPort, id, await freePort(), ["--roles", broker.roles, ...extra]);
    sites[id].start();
  }
  notifications = new NotifyRecorder(recorderBin);
  await notifications.start();
  // Not enrolled yet: the app starts with an empty settings directory and keychain.
  driver = new TauriDriver(await freePortPair(), appEnv);
  await driver.start();
  wd = new WebDriver(driver.port);
  await wd.open(app);
  await recordEvents();
});

/** Records the page's last pointer and click events (what a failed tap did, for its error). */
const recordEvents = () => wd.exec(`for (const type of ['pointerdown', 'pointerup', 'click']) {
    document.addEventListener(type, (e) => {
      const t = e.target instanceof Element ? e.target.closest('[data-testid]') : null;
      (window.__events ??= []).push(\`\${type} \${t?.dataset.testid ?? e.target?.nodeName} \${Math.round(performance.now())}\`);
      if (window.__events.length > 300) window.__events.splice(0, 150);
    }, true);
  }`);

after(async () => {
  await wd?.close();
  await driver?.stop();
  for (const s of Object.values(sites)) await s.kill();
  await hevc?.dispose();
  await gateway?.dispose();
  await officeSnapshot?.dispose();
  await officeBroker?.dispose();
  if (officeDir) rmSync(officeDir, { recursive: true, force: true });
  await notifications?.dispose();
  await broker?.dispose();
  rmSync(configDir, { recursive: true, force: true });
  if (tls) rmSync(dirname(tls.ca), { recursive: true, force: true });
});

test("a new device enrols from a code and its PIN, and sees only names and roles", async () => {
  await until("the enrolment form", () => wd.exec(`return !!document.querySelector('[data-testid="enrol-form"]')`), 30000);
  await keepPage();
  const cameras = join(configDir, "..", `mimamori-e2e-cameras-${process.pid}.json`);
  const dock = `127.0.0.1:${sites.warehouse.cameraPort}`;
  writeFileSync(cameras, JSON.stringify([{ site: "warehouse", camera: "dock-1", username: "viewer", password: CAMERA_CANARY, origins: [`rtsp://${dock}`, `http://${dock}`] }]));
  const created = makeCode("manager", ["hq:本社:operator", "warehouse:倉庫:viewer"], "Example Co.", ["--cameras", cameras]);
  rmSync(cameras);
  // A wrong PIN first: refused, and the form is ready again.
  await wd.type('[data-testid="enrol-code"]', created.link);
  await wd.type('[data-testid="enrol-pin"]', "WRONG-PIN00");
  await tap('[data-testid="enrol-submit"]');
  const error = await until("wrong PIN shown", () =>
    wd.exec(`return document.querySelector('[data-testid="enrol-error"]')?.textContent || null`));
  assert.match(error, /PIN/);
  // This time the code comes as a file, as when saved from an e-mail.
  const codeFile = join(configDir, "..", `mimamori-e2e-code-${process.pid}.txt`);
  writeFileSync(codeFile, `${created.code}\n`);
  await wd.type('[data-testid="enrol-file"]', codeFile);
  await until("the code read from the file", async () =>
    (await wd.exec(`return document.querySelector('[data-testid="enrol-code"]').value`)) === created.code);
  rmSync(codeFile);
  await wd.type('[data-testid="enrol-pin"]', created.pin.toLowerCase());
  await tap('[data-testid="enrol-submit"]');
  const result = await until("enrolment result", () =>
    wd.exec(`return document.querySelector('[data-testid="enrol-result"]')?.textContent || null`), 20000);
  assert.match(result, /本社/);
  assert.match(result, /倉庫/);
  const inputs = await wd.exec(`return [...document.querySelectorAll('[data-testid="enrol-code"], [data-testid="enrol-pin"]')].map(e => e.value).join('')`);
  assert.equal(inputs, "", "the code and PIN must not linger in the page");
  await sleep(300);
  await wd.screenshot(join(out, "enrolled.png"));
  await keepPage();
});

test("a second account's code adds its site beside the first; a site already enrolled is refused", async () => {
  await tap('[data-testid="tab-settings"]');
  // The owner's account also holds the gateway site, office, with its camera's password.
  const cameras = join(configDir, "..", `mimamori-e2e-office-cameras-${process.pid}.json`);
  const snapshotOrigin = new URL(officeSnapshot.url).origin;
  writeFileSync(cameras, JSON.stringify([{ site: "office", camera: "front-cam", username: "admin", password: CAMERA_CANARY, origins: [snapshotOrigin] }]));
  const code = makeCode("owner", ["shop:店舗:admin", "office:東京事務所:admin"], "Shop Co.", ["--cameras", cameras]);
  rmSync(cameras);
  await wd.type('[data-testid="enrol-code"]', code.link);
  await wd.type('[data-testid="enrol-pin"]', code.pin);
  await tap('[data-testid="enrol-submit"]');
  // (The first enrolment's result may still show until this one's replaces it.)
  const result = await until("the second enrolment's result", () =>
    wd.exec(`const r = document.querySelector('[data-testid="enrol-result"]')?.textContent ?? '';
      return r.includes('店舗') && r`), 20000);
  assert.doesNotMatch(result, /本社|倉庫/, "only what this code enrolled");
  // Both profiles are listed, and both are in use: every site of both is on the site list.
  const rows = await until("two profiles, each connected", () => wd.exec(`const rows = [...document.querySelectorAll('[data-testid="profile-row"]')];
    return rows.length === 2 && rows.every((r) => r.querySelector('[data-testid="profile-connection"]')?.dataset.phase === 'connected')
      && rows.map((r) => r.textContent)`), 20000);
  assert.ok(rows.some((r) => r.includes("Example Co.")) && rows.some((r) => r.includes("Shop Co.")), JSON.stringify(rows));
  // A third account naming hq, which the manager's profile holds: refused, and it says why.
  const clash = makeCode("guard", ["hq:本社:operator"], "Guard Co.");
  await wd.type('[data-testid="enrol-code"]', clash.link);
  await wd.type('[data-testid="enrol-pin"]', clash.pin);
  await tap('[data-testid="enrol-submit"]');
  const error = await until("the clash refused", () =>
    wd.exec(`return document.querySelector('[data-testid="enrol-error"]')?.textContent || null`));
  assert.match(error, /already enrolled/);
  assert.match(error, /Example Co\./);
  await wd.exec(`document.querySelector('[data-testid="profile-row"]').scrollIntoView({ block: 'start' })`);
  await sleep(300);
  await wd.screenshot(join(out, "two-profiles.png"));
  await keepPage();
  await wd.exec(`for (const id of ['enrol-code', 'enrol-pin']) {
    const e = document.querySelector('[data-testid="' + id + '"]'); e.value = ''; e.dispatchEvent(new Event('input')) }`);
  await tap('[data-testid="tab-sites"]');
});

test("an enrolment link opened on the desktop brings the app to its enrolment form, filled in", async () => {
  // The app told the desktop at start-up that it opens mimamori:// links.
  const handler = join(process.env.XDG_DATA_HOME ?? join(process.env.HOME ?? "", ".local", "share"), "applications", "mimamori-app-handler.desktop");
  assert.match(readFileSync(handler, "utf8"), /MimeType=.*x-scheme-handler\/mimamori/);
  // The desktop starts the app with the link; the running app takes it and the new one exits.
  const link = "mimamori://enroll?code=MMR1.e2e-link-check";
  const second = spawn(app, [link], {
    env: { ...process.env, MIMAMORI_CONFIG_DIR: configDir, MIMAMORI_CLIPS_DIR: clipsDir, XDG_CONFIG_HOME: xdgConfig },
    stdio: "ignore",
  });
  const exited = await Promise.race([new Promise((r) => second.once("exit", (code) => r(code === 0))), sleep(15000).then(() => false)]);
  if (second.exitCode === null) second.kill("SIGKILL");
  assert.ok(exited, "the second instance hands the link over and exits");
  await until("the enrolment form, filled in, the PIN next", () => wd.exec(`return document.getElementById('app').dataset.tab === 'settings'
    && document.querySelector('[data-testid="enrol-code"]')?.value === arguments[0]
    && document.activeElement?.dataset.testid === 'enrol-pin'`, link));
  await wd.exec(`const c = document.querySelector('[data-testid="enrol-code"]'); c.value = ''; c.dispatchEvent(new Event('input'))`);
  await tap('[data-testid="tab-sites"]');
});

test("the site list shows every site online, with names and camera counts", async () => {
  await until("four online site cards", async () => {
    const cards = await siteCards();
    return cards.length === 4 && cards.every((c) => c.link === "online");
  }, 30000);
  const cards = await siteCards();
  assert.deepEqual(cards.map((c) => c.id).sort(), ["hq", "office", "shop", "warehouse"]);
  const byId = Object.fromEntries(cards.map((c) => [c.id, c]));
  assert.match(byId.hq.text, /本社/);
  assert.match(byId.warehouse.text, /倉庫/);
  assert.match(byId.office.text, /東京事務所/, "the gateway site, by the name its configuration gives");
  assert.match(byId.hq.text, /6/);
  assert.equal(await phase(), "connected");
  const bar = await wd.exec(`return document.querySelector('[data-testid="connection-bar"]').textContent`);
  assert.doesNotMatch(bar, /not encrypted/, "the enrolled broker is reached over TLS");
  await sleep(300);
  await wd.screenshot(join(out, "sites.png"));
  await keepPage();
});

test("a tap opens the site's camera grid with its outputs", async () => {
  await tap('[data-testid="site-card"][data-site-id="warehouse"]');
  const grid = await until("warehouse grid", () =>
    wd.exec(`const p = document.querySelector('[data-testid="site-page"][data-site-id="warehouse"]');
      return p?.querySelector('[data-testid="camera-tile"]') && { tiles: p.querySelectorAll('[data-testid="camera-tile"]').length,
        outputs: [...p.querySelectorAll('[data-testid="output-row"]')].map(o => o.getAttribute('data-state')),
        text: p.textContent }`));
  assert.equal(grid.tiles, 8);
  assert.match(grid.text, /搬入口 1/);
  assert.deepEqual(grid.outputs, ["off", "off", "locked"]);
  // The role shown is the one the site enforces and publishes, not the enrolled one.
  const role = await wd.exec(`const b = document.querySelector('[data-testid="site-role"]');
    return b ? [b.getAttribute('data-role'), b.getAttribute('data-from')] : null`);
  assert.deepEqual(role, ["viewer", "site"]);
  await sleep(300);
  await wd.screenshot(join(out, "site.png"));
  await keepPage();
});

/** What the players inside `css` show: phase, picture size, play position, newest frame. */
const players = (css) => wd.exec(`return [...document.querySelectorAll(arguments[0] + ' [data-testid="player"]')].map((p) => {
    const v = p.querySelector('video');
    return { camera: p.dataset.cameraId, phase: p.dataset.phase, ready: v.readyState, width: v.videoWidth, time: v.currentTime, frameMs: Number(p.dataset.frameMs ?? 0),
      suspended: p.dataset.suspended === 'true', pictureBy: p.dataset.pictureBy ?? null };
  })`, css);

test("every camera tile plays live video, and a tap opens the camera full screen", async () => {
  const grid = '[data-testid="site-page"][data-site-id="warehouse"]';
  const first = await until("eight tiles playing the 320x176 sub streams", async () => {
    const ps = await players(grid);
    return ps.length === 8 && ps.every((p) => p.phase === "live" && p.ready >= 2 && p.width === 320) && ps;
  }, 30000);
  await sleep(1500);
  const later = await players(grid);
  for (const [i, p] of later.entries()) {
    assert.ok(p.time > first[i].time + 0.5, `${p.camera} plays on: ${first[i].time} → ${p.time}`);
    assert.ok(Date.now() - p.frameMs < 2000, `${p.camera} shows a recent frame`);
  }
  await wd.screenshot(join(out, "live.png"));
  await tap('[data-testid="camera-tile"][data-camera-id="dock-1"]');
  const view = '[data-testid="camera-view"]';
  await until("dock-1 full screen on its 640x352 main stream", async () => {
    const [p] = await players(view);
    return p?.camera === "dock-1" && p.ready >= 2 && p.width === 640;
  }, 20000);
  const [open] = await players(view);
  assert.ok(["still", "video"].includes(open.pictureBy), `the first picture was noted (${open.pictureBy})`);
  // The grid under the full-screen camera is not seen: its players stop their streams.
  await until("the grid's players suspended", async () => (await players(grid)).every((p) => p.suspended));
  await sleep(300);
  await wd.screenshot(join(out, "camera.png"));
  await keepPage();
  // The next camera, in one tap.
  await tap('[data-testid="camera-next"]');
  await until("dock-2 full screen", async () => {
    const [p] = await players(view);
    return p?.camera === "dock-2" && p.ready >= 2 && p.width === 640;
  }, 20000);
  // Back past the site's first camera: on to the previous site of the list (本社), at
  // its last camera.
  await tap('[data-testid="camera-prev"]');
  await until("dock-1 again", async () => (await players(view))[0]?.camera === "dock-1");
  await tap('[data-testid="camera-prev"]');
  const across = await until("hq's last camera", () => wd.exec(`const v = document.querySelector('[data-testid="camera-view"]');
    return v && v.dataset.cameraId === 'parking' && document.querySelector('[data-testid="camera-site"]').textContent`));
  assert.equal(across, "本社");
  await tap('[data-testid="camera-close"]');
  await until("back on the grid", () => wd.exec(`return !document.querySelector('[data-testid="camera-view"]')`));
  // Seen again, the tiles play on from their cached key frames.
  const hq = '[data-testid="site-page"][data-site-id="hq"]';
  // (hq's parking camera has an unreachable stream in this test's catalog.)
  const resumed = await until("hq's tiles playing again", async () => {
    const ps = (await players(hq)).filter((p) => p.camera !== "parking");
    return ps.length === 5 && ps.every((p) => !p.suspended && p.phase === "live" && p.ready >= 2) && ps;
  }, 20000);
  await sleep(1500);
  const again = (await players(hq)).filter((p) => p.camera !== "parking");
  for (const [i, p] of again.entries()) {
    assert.ok(p.time > resumed[i].time + 0.5, `${p.camera} plays on after the camera view: ${resumed[i].time} → ${p.time}`);
  }
});

test("an H.265 camera plays beside H.264 ones", async () => {
  await tap('[data-testid="site-card"][data-site-id="hq"]');
  const grid = '[data-testid="site-page"][data-site-id="hq"]';
  const ps = await until("hq's tiles playing, the entrance in H.265 at 320x240", async () => {
    const ps = await players(grid);
    const entrance = ps.find((p) => p.camera === "entrance");
    const playing = ps.filter((p) => p.camera !== "parking");
    return playing.length === 5 && playing.every((p) => p.phase === "live" && p.ready >= 2) && entrance?.width === 320 && ps;
  }, 30000);
  // The camera whose stream cannot be reached says so, and shows its snapshot instead.
  const parking = await until("the parking tile shows a snapshot and why there is no video", () => wd.exec(`
    const p = document.querySelector(arguments[0] + ' [data-testid="player"][data-camera-id="parking"]');
    const img = p.querySelector('[data-testid="snapshot"]');
    return p.dataset.snapshot === 'shown' && !img.hidden && img.naturalWidth > 0 &&
      { problem: p.dataset.problem, width: img.naturalWidth, text: p.querySelector('[data-testid="stream-state"]').textContent }`, grid), 20000);
  assert.equal(parking.problem, "unreachable");
  assert.equal(parking.width, 640);
  assert.ok(parking.text.length > 0);
  await sleep(300);
  await wd.screenshot(join(out, "hq-snapshot.png"));
  const codec = await wd.exec(`return document.querySelector('[data-testid="player"][data-camera-id="entrance"]').dataset.codec ?? null`);
  assert.match(codec, /^hvc1|^hev1/);
  const before = ps.find((p) => p.camera === "entrance").time;
  await sleep(1500);
  const after = (await players(grid)).find((p) => p.camera === "entrance");
  assert.ok(after.time > before + 0.5, `the H.265 camera plays on: ${before} → ${after.time}`);
  await tap('[data-testid="site-card"][data-site-id="warehouse"]');
});

/** The control buttons of the open site page: output id ('' for the site) → actions. */
const controls = () => wd.exec(`const out = {};
  for (const b of document.querySelectorAll('[data-testid="site-page"] [data-testid="control"]')) {
    (out[b.dataset.outputId] ??= []).push(b.dataset.action);
  }
  return out`);
const outputState = (id) => wd.exec(`const r = document.querySelector('[data-testid="output-row"][data-output-id="' + arguments[0] + '"]');
  return r && { state: r.dataset.state, text: r.textContent }`, id);

test("commands: a viewer gets no controls, an operator sounds the siren, unlocking takes a confirming step and the app PIN", async () => {
  await tap('[data-testid="site-card"][data-site-id="warehouse"]');
  await until("the warehouse's outputs", () => wd.exec(`return document.querySelectorAll('[data-testid="site-page"][data-site-id="warehouse"] [data-testid="output-row"]').length === 3`));
  await sleep(500);
  assert.deepEqual(await controls(), {}, "a viewer is offered nothing");

  await tap('[data-testid="site-card"][data-site-id="hq"]');
  const hq = await until("hq's controls", async () => {
    const c = await controls();
    return c.siren && c;
  });
  assert.deepEqual(hq, { siren: ["on", "off"], light: ["on", "off"] }, "an operator: siren and light, no lock, no arming");
  await tap('[data-testid="output-row"][data-output-id="siren"] [data-testid="control"][data-action="on"]');
  const siren = await until("the siren on, by the manager", async () => {
    const s = await outputState("siren");
    return s?.state === "on" && s.text.includes("manager") && s;
  });
  assert.ok(siren);
  // The site reports the siren's state before it answers the command: past "Sending…".
  const result = await until("the outcome shown", async () => {
    const text = await wd.exec(`return document.querySelector('[data-testid="control-result"]')?.textContent || null`);
    return text && !/Sending|送信中/.test(text) && text;
  });
  assert.match(result, /Done|完了/);

  await tap('[data-testid="site-card"][data-site-id="shop"]');
  const shop = await until("shop's controls", async () => {
    const c = await controls();
    return c.door && c;
  });
  assert.deepEqual(shop.door, ["lock", "unlock"]);
  assert.deepEqual(shop[""], ["arm", "arm_partial", "disarm"], "an admin arms and disarms");
  const unlock = '[data-testid="output-row"][data-output-id="door"] [data-testid="control"][data-action="unlock"]';
  await tap(unlock);
  await until("a confirming step asking to choose an app PIN", () => wd.exec(`return !!document.querySelector('[data-testid="confirm-step"] [data-testid="control-pin"]')`));
  assert.equal((await outputState("door")).state, "locked", "one tap does not unlock");
  await wd.type('[data-testid="control-pin"]', "12");
  await tap('[data-testid="control-confirm"]');
  // "Sending…" first, then the refusal, which names the PIN's length.
  const refused = await until("a too-short PIN refused", async () => {
    const text = await wd.exec(`return document.querySelector('[data-testid="control-result"]')?.textContent || null`);
    return text && !/Sending|送信中/.test(text) && text;
  });
  assert.match(refused, /6/);
  assert.equal((await outputState("door")).state, "locked");
  await wd.type('[data-testid="control-pin"]', PIN);
  await wd.screenshot(join(out, "confirm-unlock.png"));
  await tap('[data-testid="control-confirm"]');
  await until("the door unlocked", async () => (await outputState("door"))?.state === "unlocked");
  const pinLeft = await wd.exec(`return document.querySelector('[data-testid="control-pin"]')?.value ?? ''`);
  assert.equal(pinLeft, "", "the PIN does not linger in the page");
  // The same controls under a full-screen camera: lock the door from there.
  await tap('[data-testid="camera-tile"][data-camera-id="back-door"]');
  const lockThere = '[data-testid="camera-outputs"] [data-output-id="door"] [data-testid="control"][data-action="lock"]';
  await until("the door's controls under the back door's camera", () => wd.exec(`return document.querySelector('[data-testid="camera-view"]')?.dataset.cameraId === 'back-door'
    && !!document.querySelector(arguments[0])`, lockThere), 20000);
  await tapUntil(lockThere, "locked from the camera view", () => wd.exec(`return document.querySelector('[data-testid="camera-outputs"] [data-output-id="door"]')?.dataset.state === 'locked'`));
  await wd.screenshot(join(out, "camera-controls.png"));
  await tap('[data-testid="camera-close"]');
  await until("the camera view closed", () => wd.exec(`return !document.querySelector('[data-testid="camera-view"]')`));
  await sleep(300);
  await wd.screenshot(join(out, "controls.png"));
  await keepPage();
  await tap('[data-testid="site-card"][data-site-id="warehouse"]');
});

/** The camera shown full screen: its picture, and when the frame on screen was taken. */
const fullScreen = () => wd.exec(`const p = document.querySelector('[data-testid="camera-view"] [data-testid="player"]');
  if (!p) return null;
  const v = p.querySelector('video');
  const mark = p.querySelector('[data-testid="replay-alert"]');
  return { camera: p.dataset.cameraId, ready: v.readyState, time: v.currentTime, shownMs: Number(p.dataset.shownMs ?? 0),
    replay: p.dataset.replay ?? 'live', label: p.querySelector('[data-testid="replay-time"]')?.textContent ?? '',
    markMs: mark && !mark.hidden ? Number(mark.dataset.atMs) : null, now: Date.now() }`);

/** Opens a warehouse camera full screen and waits for its live picture. */
async function openLive(camera) {
  await tap('[data-testid="tab-sites"]');
  await tap('[data-testid="site-card"][data-site-id="warehouse"]');
  await tap(`[data-testid="camera-tile"][data-camera-id="${camera}"]`);
  return until(`${camera} live full screen`, async () => {
    const p = await fullScreen();
    return p?.camera === camera && p.ready >= 2 && p.shownMs > 0 && p.now - p.shownMs < 2000 && p;
  }, 20000);
}

/** Closes the camera view if it is open (after a failure too: later tests need the page). */
async function closeCameraView() {
  if (await wd.exec(`return !!document.querySelector('[data-testid="camera-view"]')`)) await tap('[data-testid="camera-close"]');
}

/** What ffprobe reads of a file: container, duration, whether the first frame is a key frame. */
function ffprobe(path) {
  const text = execFileSync("ffprobe", ["-v", "error", "-of", "default=nw=1", "-select_streams", "v:0", "-read_intervals", "%+#1",
    "-show_entries", "format=format_name,duration:frame=key_frame", path]).toString();
  const field = (k) => text.split("\n").find((l) => l.startsWith(`${k}=`))?.slice(k.length + 1);
  return { format: field("format_name"), duration: Number(field("duration")), firstKey: field("key_frame") === "1" };
}

test("a camera goes back in time: 10 s back it shows the frame of 10 s ago, then live again, and saves a clip", async () => {
  try {
    await openLive("dock-2");
    // The camera remembers while it is watched.
    await sleep(12000);
    // The scrub bar dragged to 10 s back.
    await wd.exec(`const s = document.querySelector('[data-testid="camera-view"] [data-testid="replay-scrub"]');
      s.value = '-10';
      s.dispatchEvent(new Event('input', { bubbles: true }));
      s.dispatchEvent(new Event('change', { bubbles: true }))`);
    // Within one GOP: the demo cameras send a key frame every 2 s.
    const back = await until("the frame of 10 s ago on screen", async () => {
      const p = await fullScreen();
      return p?.replay !== "live" && p.ready >= 2 && Math.abs(p.now - p.shownMs - 10000) <= 2000 && p;
    }, 15000);
    // The time line says how far back, and the time of the frame.
    const ago = Number(/(\d+) (?:s ago|秒前)/.exec(back.label)?.[1]);
    assert.ok(Math.abs(ago - 10) <= 2, back.label);
    await sleep(2000);
    const later = await fullScreen();
    assert.ok(later.time > back.time + 1, `plays on from memory: ${back.time} → ${later.time}`);
    assert.ok(Math.abs(later.now - later.shownMs - 10000) <= 2000, `still 10 s behind: ${later.now - later.shownMs} ms`);
    await wd.screenshot(join(out, "replay.png"));
    // Back to live in one tap.
    await tap('[data-testid="camera-view"] [data-testid="replay-live"]');
    await until("live again", async () => {
      const p = await fullScreen();
      return p?.replay === "live" && p.now - p.shownMs < 2000;
    }, 15000);
    // One tap saves what the camera remembers and what follows, until the second tap.
    await tap('[data-testid="camera-view"] [data-testid="clip-save"]');
    await until("recording", () => wd.exec(`return document.querySelector('[data-testid="camera-view"] [data-testid="clip-save"]')?.dataset.recording === 'true'`));
    await sleep(2000);
    await tap('[data-testid="camera-view"] [data-testid="clip-save"]');
    const clip = await until("the clip saved", () => wd.exec(`const r = document.querySelector('[data-testid="camera-view"] [data-testid="clip-result"]');
      return r?.dataset.clipId ? { id: r.dataset.clipId, durationMs: Number(r.dataset.durationMs), text: r.textContent } : null`), 20000);
    assert.ok(clip.durationMs >= 14000, `the remembered seconds and the two after: ${clip.durationMs} ms`);
    const probed = ffprobe(join(clipsDir, `${clip.id}.mp4`));
    assert.match(probed.format, /mp4/);
    assert.ok(probed.firstKey, "the clip starts at a key frame");
    assert.ok(Math.abs(probed.duration * 1000 - clip.durationMs) <= 1000, `${probed.duration} s`);
    await tap('[data-testid="camera-close"]');
    // Listed in Settings, and deleted from there.
    await tap('[data-testid="tab-settings"]');
    const row = `[data-testid="clip-row"][data-clip-id="${clip.id}"]`;
    await until("the clip listed", () => wd.exec(`return !!document.querySelector(arguments[0])`, row));
    await wd.exec(`document.querySelector('[data-testid="clips"]').scrollIntoView()`);
    await sleep(300);
    await wd.screenshot(join(out, "clips.png"));
    await keepPage();
    await tap(`${row} [data-testid="clip-delete"]`);
    await until("the clip deleted", () => wd.exec(`return !document.querySelector(arguments[0])`, row));
    assert.ok(!statSync(join(clipsDir, `${clip.id}.mp4`), { throwIfNoEntry: false }), "its file is gone");
    await tap('[data-testid="tab-sites"]');
  } finally {
    await closeCameraView();
  }
});

test("an alert opens its camera at the alert's moment, a few seconds before it, the moment marked", async () => {
  try {
    await openLive("dock-2");
    await sleep(7000);
    const seen = await wd.exec(`return [...document.querySelectorAll('[data-testid="alert-row"]')].map(r => r.dataset.alertId)`);
    sites.warehouse.raise("intrusion", "dock-2");
    await sleep(1500);
    await tap('[data-testid="camera-close"]');
    await tap('[data-testid="tab-alerts"]');
    const id = await until("the new intrusion at dock-2", () => wd.exec(`return [...document.querySelectorAll('[data-testid="alert-row"][data-site-id="warehouse"][data-kind="intrusion"]')]
      .filter(r => !arguments[0].includes(r.dataset.alertId) && r.querySelector('[data-testid="alert-camera"]')?.dataset.cameraId === 'dock-2')
      .map(r => r.dataset.alertId)[0] ?? null`, seen));
    await tap(`[data-testid="alert-row"][data-alert-id="${id}"] [data-testid="alert-camera"]`);
    let shown = null;
    const at = await until("dock-2 from before the alert, the alert marked", async () => {
      const p = (shown = await fullScreen());
      return p?.camera === "dock-2" && p.replay !== "live" && p.ready >= 2 && p.shownMs > 0 && p.markMs !== null && p;
    }, 20000).catch((e) => {
      throw new Error(`${e.message}; the camera view: ${JSON.stringify(shown)}`);
    });
    assert.ok(at.shownMs < at.markMs, `lands before the alert: ${at.markMs - at.shownMs} ms`);
    assert.ok(at.markMs - at.shownMs <= 6000, `a few seconds before: ${at.markMs - at.shownMs} ms`);
    await sleep(300);
    await wd.screenshot(join(out, "alert-moment.png"));
    await tap('[data-testid="camera-close"]');
    await tap('[data-testid="tab-sites"]');
    await tap('[data-testid="site-card"][data-site-id="warehouse"]');
  } finally {
    await closeCameraView();
  }
});

test("the language switches between Japanese and English", async () => {
  await tap('[data-testid="tab-settings"]');
  await until("the settings shown", () => wd.exec(`return document.getElementById('app').dataset.tab === 'settings'`));
  await keepPage();
  await tap('[data-testid="lang-ja"]');
  await until("Japanese labels", async () =>
    (await wd.exec(`return document.documentElement.lang`)) === "ja" &&
    /拠点/.test(await wd.exec(`return document.querySelector('[data-testid="tab-sites"]').textContent`)));
  await tap('[data-testid="lang-en"]');
  await until("English labels", async () =>
    /Sites/.test(await wd.exec(`return document.querySelector('[data-testid="tab-sites"]').textContent`)));
  await tap('[data-testid="tab-sites"]');
});

test("Settings: the app keeps running in the tray, and can start at login", async () => {
  await tap('[data-testid="tab-settings"]');
  const text = await until("the background section", () => wd.exec(`return document.querySelector('[data-testid="background"]')?.textContent ?? null`));
  assert.match(text, /tray|トレイ/);
  const entry = join(xdgConfig, "autostart", "app.mimamori.client.desktop");
  await tap('[data-testid="start-at-login"]');
  await until("the autostart entry", () => statSync(entry, { throwIfNoEntry: false })?.isFile());
  assert.match(readFileSync(entry, "utf8"), /^Exec=".*mimamori-app" --background$/m);
  await tap('[data-testid="start-at-login"]');
  await until("the autostart entry gone", () => !statSync(entry, { throwIfNoEntry: false }));
  // The audit log: its chain holds, with the enrolment and the commands of this run.
  const audit = await until("the audit log", () => wd.exec(`return document.querySelector('[data-testid="audit-verified"]')
    && [...document.querySelectorAll('[data-testid="audit-record"]')].map(r => r.dataset.what)`));
  assert.ok(["enrol", "command", "outcome", "clip"].every((w) => audit.includes(w)), JSON.stringify(audit));
  await wd.screenshot(join(out, "settings.png"));
  // Quiet hours, 22:00 to 06:00 by default, kept on the device.
  await tap('[data-testid="quiet-on"]');
  const kept = join(configDir, "notifications.json");
  await until("the quiet hours kept", () => /"fromMinute": 1320[\s\S]*"toMinute": 360/.test(readFileSync(kept, { encoding: "utf8", flag: "r" })));
  await tap('[data-testid="quiet-on"]');
  await until("the quiet hours off", () => /"quiet": null/.test(readFileSync(kept, "utf8")));
  await tap('[data-testid="tab-sites"]');
});

test("alerts raised at the sites arrive in the inbox, newest first, titles as text", async () => {
  await tap('[data-testid="tab-alerts"]');
  // (The simulated sites raise alerts every few seconds; the gateway site only when its door opens.)
  const everySim = (ids) => Object.keys(sites).every((id) => ids.includes(id));
  const rows = await until("alerts from every simulated site", async () => {
    const r = await wd.exec(`return [...document.querySelectorAll('[data-testid="alert-row"]')]
      .map(e => ({ site: e.getAttribute('data-site-id'), kind: e.getAttribute('data-kind'), text: e.textContent }))`);
    return everySim(r.map((x) => x.site)) && r;
  }, 30000);
  assert.ok(rows.every((r) => ["door", "intrusion", "tamper", "sensor"].includes(r.kind)), JSON.stringify(rows));
  assert.ok(rows.some((r) => /扉開放|侵入検知|いたずら検知|電池/.test(r.text)), JSON.stringify(rows));
  await sleep(300);
  await wd.screenshot(join(out, "alerts.png"));
  await keepPage();
  // Filters: one site only, then all again.
  // (An earlier test may have left the inbox scrolled down.)
  await wd.exec(`document.querySelector('[data-testid="filter-site"]').scrollIntoView({ block: 'center' })`);
  await tap('[data-testid="filter-site"] option[value="shop"]');
  await until("only shop's alerts", () => wd.exec(`const r = [...document.querySelectorAll('[data-testid="alert-row"]')];
    return r.length > 0 && r.every(e => e.dataset.siteId === 'shop')`));
  await tap('[data-testid="filter-site"] option[value=""]');
  await until("every site's alerts again", async () => everySim(await wd.exec(`return [...document.querySelectorAll('[data-testid="alert-row"]')].map(e => e.dataset.siteId)`)));
  // Scrolled down the inbox, the row in sight stays put while new alerts arrive above it.
  const inSight = () => wd.exec(`const panel = document.querySelector('.panel-alerts');
    const top = panel.getBoundingClientRect().top;
    const rows = [...panel.querySelectorAll('[data-testid="alert-row"]')];
    const row = rows.find((r) => r.getBoundingClientRect().bottom > top);
    return { newest: rows[0]?.dataset.alertId, id: row?.dataset.alertId, at: Math.round(row.getBoundingClientRect().top - top) }`);
  await wd.exec(`document.querySelector('.panel-alerts').scrollTop = 400`);
  const held = await inSight();
  const after = await until("a new alert above", async () => {
    const now = await inSight();
    return now.newest !== held.newest && now;
  }, 15000);
  assert.equal(after.id, held.id, "the same row in sight");
  assert.ok(Math.abs(after.at - held.at) <= 2, `where it was: ${held.at} → ${after.at}`);
  await wd.exec(`document.querySelector('.panel-alerts').scrollTop = 0`);
  // An alert opens its camera, full screen, at its site.
  // New alerts keep arriving on top: name the row by its alert id.
  const target = await wd.exec(`const b = document.querySelector('[data-testid="alert-row"] [data-testid="alert-camera"]');
    const row = b.closest('[data-testid="alert-row"]');
    return { id: row.dataset.alertId, site: row.dataset.siteId, camera: b.dataset.cameraId }`);
  await tap(`[data-testid="alert-row"][data-alert-id="${target.id}"] [data-testid="alert-camera"]`);
  await until("the alert's camera full screen", () => wd.exec(`const v = document.querySelector('[data-testid="camera-view"]');
    return !!v && v.dataset.cameraId === arguments[0] && document.querySelector('[data-testid="site-page"]')?.dataset.siteId === arguments[1]`, target.camera, target.site));
  await tap('[data-testid="camera-close"]');
  await tap('[data-testid="site-card"][data-site-id="warehouse"]');
});

test("an intrusion arrives with its picture; acknowledged here it shows on a colleague's device, and theirs shows here", async () => {
  // The colleague's device: the CLI as `guard`, an operator of hq, with its own inbox.
  const guardDir = mkdtempSync(join(tmpdir(), "mimamori-e2e-guard-"));
  const env = {
    ...process.env, MIMAMORI_CONFIG_DIR: guardDir, MIMAMORI_BROKER: `mqtt://127.0.0.1:${broker.plainPort}`,
    MIMAMORI_USER: "guard", MIMAMORI_PASSWORD: PASSWORD, MIMAMORI_SITES: "hq", MIMAMORI_CLIENT_ID: "cli-guard",
  };
  const watch = spawn(cli, ["watch"], { env, stdio: ["ignore", "pipe", "ignore"] });
  const lines = [];
  watch.stdout.on("data", (chunk) => lines.push(...chunk.toString().split("\n")));
  try {
    // An intrusion both devices received, shown here with the camera's picture.
    await tap('[data-testid="tab-alerts"]');
    const id = await until("an hq intrusion on both devices, its picture shown here", () => {
      const seen = new Set(lines.filter((l) => l.startsWith("alert   hq intrusion")).map((l) => l.trim().split(/\s+/).pop()));
      return wd.exec(`return [...document.querySelectorAll('[data-testid="alert-row"][data-site-id="hq"][data-kind="intrusion"][data-acked="false"]')]
        .filter(r => arguments[0].includes(r.dataset.alertId) && r.querySelector('[data-testid="alert-picture"]')?.naturalWidth > 0)
        .map(r => r.dataset.alertId)[0] ?? null`, [...seen]);
    }, 40000);
    const row = `[data-testid="alert-row"][data-alert-id="${id}"]`;
    await tapUntil(`${row} [data-testid="alert-ack"]`, "the note field", () => wd.exec(`return !!document.querySelector(arguments[0] + ' [data-testid="ack-note"]')`, row));
    await wd.type('[data-testid="ack-note"]', "警備員が確認に向かいます <b>");
    await tap('[data-testid="ack-send"]');
    await until("acknowledged here by manager, with the note as text", () => wd.exec(`const r = document.querySelector(arguments[0]);
      return r?.dataset.acked === 'true' && r.querySelector('[data-testid="alert-acked"]').textContent.includes('manager')
        && r.querySelector('[data-testid="alert-note"]').textContent === '警備員が確認に向かいます <b>' && !r.querySelector('b')`, row));
    await sleep(300);
    await wd.screenshot(join(out, "alert-acked.png"));
    await keepPage();
    // The colleague's device learns who handled it.
    await until("the acknowledgement on the colleague's device", () => {
      const listed = execFileSync(cli, ["alerts"], { env }).toString();
      return listed.split("\n").some((l) => l.includes(id) && l.endsWith("acknowledged by manager"));
    }, 15000);
    // And one the colleague acknowledges shows here.
    const theirs = await until("another hq alert on both devices", () => {
      const seen = lines.filter((l) => l.startsWith("alert   hq ")).map((l) => l.trim().split(/\s+/).pop());
      return wd.exec(`return [...document.querySelectorAll('[data-testid="alert-row"][data-site-id="hq"][data-acked="false"]')]
        .map(r => r.dataset.alertId).find(a => arguments[0].includes(a)) ?? null`, seen);
    }, 30000);
    // With `watch` still running on this device's session: a one-off command takes a
    // session of its own.
    execFileSync(cli, ["ack", "hq", theirs, "--note", "handled on site"], { env });
    await until("the colleague's acknowledgement here", () => wd.exec(`const r = document.querySelector('[data-testid="alert-row"][data-alert-id="' + arguments[0] + '"]');
      return r?.dataset.acked === 'true' && r.textContent.includes('guard') && r.textContent.includes('handled on site')`, theirs));
  } finally {
    watch.kill("SIGKILL");
    rmSync(guardDir, { recursive: true, force: true });
  }
  await tap('[data-testid="tab-sites"]');
});

test("from an alert: its camera in one tap, and the site's siren from there", async () => {
  await tap('[data-testid="tab-alerts"]');
  const id = await until("an hq alert with a camera", () => wd.exec(`const r = [...document.querySelectorAll('[data-testid="alert-row"][data-site-id="hq"]')]
    .find(r => r.querySelector('[data-testid="alert-camera"]')); return r ? r.dataset.alertId : null`));
  await tap(`[data-testid="alert-row"][data-alert-id="${id}"] [data-testid="alert-camera"]`);
  const siren = '[data-testid="camera-outputs"] [data-output-id="siren"]';
  const state = () => wd.exec(`return document.querySelector(arguments[0])?.dataset.state ?? null`, siren);
  if ((await until("the siren under the alert's camera", state)) === "on") {
    // Silencing lowers protection: a confirming step, with the app PIN unless given lately.
    await tap(`${siren} [data-testid="control"][data-action="off"]`);
    // (The site page behind has the same controls: act on the camera view's.)
    const here = '[data-testid="camera-outputs"]';
    // Ready once the PIN's state is known (the field shows unless it was given lately).
    await until("the confirming step", () => wd.exec(`const b = document.querySelector(arguments[0] + ' [data-testid="control-confirm"]');
      return !!b && !b.disabled`, here));
    if (await wd.exec(`return !!document.querySelector(arguments[0] + ' [data-testid="control-pin"]')`, here)) {
      await wd.type(`${here} [data-testid="control-pin"]`, PIN);
    }
    await tap(`${here} [data-testid="control-confirm"]`);
    await until("the siren silenced", async () => (await state()) === "off");
  }
  // Sounding it takes one tap.
  await tap(`${siren} [data-testid="control"][data-action="on"]`);
  await until("the siren on", async () => (await state()) === "on");
  await wd.screenshot(join(out, "alert-siren.png"));
  await tap('[data-testid="camera-close"]');
  await until("the camera view closed", () => wd.exec(`return !document.querySelector('[data-testid="camera-view"]')`));
  await tap('[data-testid="site-card"][data-site-id="warehouse"]');
});

test("an intrusion becomes an OS notification with its picture, and clicking it opens its camera", async () => {
  // Each site's alerts keep coming, so each site's incident is one notification updated
  // in place; the recorder keeps every version.
  const intrusion = await until("an intrusion notification with its picture", () =>
    notifications.shown.find((n) => n.app === "Mimamori" && /^(Intrusion|侵入) — /.test(n.summary) && n.image?.[0] === 320), 40000);
  assert.equal(intrusion.urgency, 2, "critical");
  assert.deepEqual(intrusion.image, [320, 176, 3, 320 * 176 * 3]);
  assert.ok(intrusion.actions.includes("default"), JSON.stringify(intrusion.actions));
  const siteName = intrusion.summary.split(" — ")[1].replace(/ \(\d+ alerts\)$|（\d+ 件）$/, "");
  await tap('[data-testid="tab-alerts"]');
  notifications.click(intrusion.id);
  // The camera of the incident's latest alert opens, full screen, at the notified site.
  const opened = await until("the notified alert's camera full screen", () => wd.exec(`const v = document.querySelector('[data-testid="camera-view"]');
    return v && { camera: v.querySelector('[data-testid="camera-title"]').textContent, site: v.querySelector('[data-testid="camera-site"]').textContent }`));
  assert.equal(opened.site, siteName);
  // Alert titles start with the camera's name ("正面玄関 侵入検知").
  const titles = notifications.shown.filter((n) => n.id === intrusion.id).map((n) => n.body.split("\n")[0]);
  assert.ok(titles.some((t) => t.startsWith(`${opened.camera} `)), `${opened.camera} / ${titles}`);
  await wd.screenshot(join(out, "notification-opened.png"));
  await tap('[data-testid="camera-close"]');
  await tap('[data-testid="site-card"][data-site-id="warehouse"]');
});

test("a gateway site: armed from the app, its Zigbee door opens, the alert brings the camera's picture and opens the camera; disarmed with the PIN, the door is quiet", async () => {
  const page = '[data-testid="site-page"][data-site-id="office"]';
  const armed = () => wd.exec(`return document.querySelector(arguments[0] + ' .mark-armed')?.dataset.state ?? null`, page);
  const door = (file) => officeBroker.publish("zigbee2mqtt/front_door", join(root, "crates", "gateway", "testdata", "zigbee2mqtt", file));
  const doorAlerts = () => wd.exec(`return [...document.querySelectorAll('[data-testid="alert-row"][data-site-id="office"][data-kind="door"]')]
    .map(r => ({ id: r.dataset.alertId, text: r.textContent, picture: r.querySelector('[data-testid="alert-picture"]')?.naturalWidth ?? 0,
      camera: r.querySelector('[data-testid="alert-camera"]')?.dataset.cameraId ?? null }))`);
  // The door is closed: what Zigbee2MQTT says of a contact sensor when it starts.
  door("contact-closed.json");
  await tap('[data-testid="site-card"][data-site-id="office"]');
  await until("the office disarmed, its camera playing", async () => {
    const ps = await players(page);
    return (await armed()) === "disarmed" && ps.length === 1 && ps[0].camera === "front-cam" && ps[0].phase === "live" && ps[0].ready >= 2;
  }, 30000);
  // An admin arms it in one tap; the gateway keeps the state and reports it.
  await tap(`${page} [data-testid="arming"] [data-testid="control"][data-action="arm"]`);
  await until("the office armed", async () => (await armed()) === "armed");
  await sleep(300);
  await wd.screenshot(join(out, "gateway-site.png"));

  // The door opens: an alert at once, with the front camera's picture (the gateway fetched
  // it with the camera's password, which it keeps as a secret).
  door("contact-open.json");
  await tap('[data-testid="tab-alerts"]');
  const [alert] = await until("the office's door alert with its picture", async () => {
    const rows = await doorAlerts();
    return rows.length === 1 && rows[0].picture > 0 && rows;
  }, 20000);
  assert.equal(alert.camera, "front-cam");
  assert.match(alert.text, /正面扉/);
  await wd.screenshot(join(out, "gateway-alert.png"));
  // The CLI says the same: the app's store holds the alert, and the owner's terminal (a
  // session of its own) sees the site armed.
  const stored = JSON.parse(execFileSync(cli, ["alerts", "--json"], { env: { ...process.env, ...appEnv, RUST_LOG: "warn" } }).toString());
  const kept = stored.find((a) => a.id === alert.id);
  assert.deepEqual([kept?.siteId, kept?.kind, kept?.cameras], ["office", "door", ["front-cam"]]);
  const ownerDir = mkdtempSync(join(tmpdir(), "mimamori-e2e-owner-"));
  try {
    const [office] = JSON.parse(execFileSync(cli, ["sites", "--json"], { env: {
      ...process.env, MIMAMORI_CONFIG_DIR: ownerDir, MIMAMORI_BROKER: `mqtt://127.0.0.1:${broker.plainPort}`, MIMAMORI_USER: "owner",
      MIMAMORI_PASSWORD: CANARY, MIMAMORI_SITES: "office", MIMAMORI_CLIENT_ID: "cli-owner", RUST_LOG: "warn",
    } }).toString());
    assert.deepEqual([office.name, office.armed, office.link], ["東京事務所", "armed", "online"]);
  } finally {
    rmSync(ownerDir, { recursive: true, force: true });
  }
  // One tap opens its camera, live.
  await tap(`[data-testid="alert-row"][data-alert-id="${alert.id}"] [data-testid="alert-camera"]`);
  await until("the front camera full screen, live", async () => {
    const p = await fullScreen();
    return p?.camera === "front-cam" && p.ready >= 2 && p;
  }, 20000);
  await tap('[data-testid="camera-close"]');
  await until("the camera view closed", () => wd.exec(`return !document.querySelector('[data-testid="camera-view"]')`));
  door("contact-closed.json");

  // Disarming lowers protection: a confirming step and the app PIN (one proof, one command).
  await tap('[data-testid="tab-sites"]');
  await tap('[data-testid="site-card"][data-site-id="office"]');
  await tap(`${page} [data-testid="arming"] [data-testid="control"][data-action="disarm"]`);
  await until("the confirming step with the PIN", () => wd.exec(`const b = document.querySelector('[data-testid="confirm-step"] [data-testid="control-confirm"]');
    return !!b && !b.disabled && !!document.querySelector('[data-testid="confirm-step"] [data-testid="control-pin"]')`));
  assert.equal(await armed(), "armed", "one tap does not disarm");
  await wd.type('[data-testid="confirm-step"] [data-testid="control-pin"]', PIN);
  await tap('[data-testid="confirm-step"] [data-testid="control-confirm"]');
  await until("the office disarmed", async () => (await armed()) === "disarmed");
  // Disarmed, the door opening is no alert.
  door("contact-open.json");
  await tap('[data-testid="tab-alerts"]');
  await sleep(3000);
  assert.equal((await doorAlerts()).length, 1, "no alert while disarmed");
  door("contact-closed.json");

  // The site's own command log agrees: the owner armed and disarmed it.
  const log = gateway.run("export-commands").trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(log.map((c) => [c.user, c.action, c.outcome]), [["owner", "arm", "done"], ["owner", "disarm", "done"]]);
  await tap('[data-testid="tab-sites"]');
  await tap('[data-testid="site-card"][data-site-id="warehouse"]');
});

test("phone and tablet layouts: bottom tabs on a phone, site column beside the grid on a tablet", async () => {
  const layout = () => wd.exec(`const r = (q) => document.querySelector(q)?.getBoundingClientRect();
    const tabs = r('[data-testid="tab-sites"]'), list = r('[data-testid="site-list"]'),
      page = r('[data-testid="site-page"]');
    return { w: innerWidth, h: innerHeight, tabsTop: tabs?.top ?? -1,
      listVisible: !!list && list.width > 0, pageVisible: !!page && page.width > 0,
      sideBySide: !!list && !!page && list.width > 0 && page.width > 0 && list.right <= page.left + 1 }`);
  await wd.setWindowSize(390, 844);
  const phone = await until("phone viewport", async () => { const l = await layout(); return l.w <= 400 && l; });
  assert.ok(phone.tabsTop > phone.h / 2, `tabs should sit at the bottom on a phone: ${JSON.stringify(phone)}`);
  assert.ok(!phone.sideBySide, "a phone shows one column at a time");
  await wd.screenshot(join(out, "phone.png"));
  await wd.setWindowSize(1024, 1366);
  const tablet = await until("tablet viewport", async () => { const l = await layout(); return l.w >= 1000 && l; });
  assert.ok(tablet.sideBySide, `the site list sits beside the grid on a tablet: ${JSON.stringify(tablet)}`);
  await wd.screenshot(join(out, "tablet.png"));
  await wd.setWindowSize(1280, 800);
});

test("no endpoint or secret reaches any page, any IPC answer, the log or a file", async () => {
  await tap('[data-testid="tab-alerts"]');
  await keepPage();
  await tap('[data-testid="tab-sites"]');
  const answers = await wd.execAsync(`const done = arguments[arguments.length - 1];
    const invoke = window.__TAURI__.core.invoke;
    (async () => {
      const sites = await invoke('list_sites');
      const views = await Promise.all(sites.map((s) => invoke('get_site', { siteId: s.id })));
      const rest = await Promise.all(['list_profiles', 'app_info', 'connection_status', 'bus_stats'].map((c) => invoke(c)));
      return JSON.stringify([sites, views, rest]);
    })().then(done, (e) => done('error: ' + JSON.stringify(e)));`);
  assert.match(answers, /本社/, "the IPC answers were read");
  const storage = await wd.exec("return JSON.stringify(localStorage) + JSON.stringify(sessionStorage)");
  const files = [];
  // Nothing the app keeps may be open to the group or others (directories 0700, files 0600).
  const loose = [];
  const walk = (dir) => {
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      const stat = statSync(path);
      if ((stat.mode & 0o077) !== 0) loose.push(`${path} ${(stat.mode & 0o777).toString(8)}`);
      if (stat.isDirectory()) walk(path);
      else files.push([path, readFileSync(path, "utf8")]);
    }
  };
  walk(configDir);
  assert.ok(files.length > 0, "the app wrote its settings");
  assert.deepEqual(loose, [], "open to other users");
  const places = [
    ...pages.map((html, i) => [`page ${i}`, html]),
    ["IPC answers", answers],
    ["web storage", storage],
    ["app and driver log", driver.output],
    ...files,
  ];
  const cameraAddresses = [...Object.values(sites).map((s) => `:${s.cameraPort}/`), new URL(officeSnapshot.url).host];
  for (const [where, text] of places) {
    for (const needle of [CANARY, CAMERA_CANARY, PIN, "rtsp://", `localhost:${broker.port}`, `127.0.0.1:${broker.port}`, "manager:", ...cameraAddresses]) {
      assert.ok(!text.includes(needle), `${needle} found in ${where}`);
    }
  }
  assert.match(driver.output, /connected to the broker/, "the log was captured");
  // The gateway's log is the installer's: addresses may be in it, secrets never.
  for (const needle of [CAMERA_CANARY, PASSWORD, CANARY, PIN]) assert.ok(!gateway.log().includes(needle), `${needle} found in the gateway's log`);
  assert.match(gateway.log(), /site connected/, "the gateway's log was captured");
});

test("a site that dies: its camera tiles say so within 5 s, the site turns offline within its supervision time", async () => {
  await tap('[data-testid="site-card"][data-site-id="shop"]');
  const grid = '[data-testid="site-page"][data-site-id="shop"]';
  await until("shop's tiles playing", async () => {
    const ps = await players(grid);
    return ps.length === 4 && ps.every((p) => p.phase === "live" && p.ready >= 2);
  }, 30000);
  const started = Date.now();
  await sites.shop.kill(); // the controller and its cameras, as in a power cut
  const failed = await until("every shop tile says why it has no picture", () => wd.exec(`
    const ps = [...document.querySelectorAll(arguments[0] + ' [data-testid="player"]')];
    return ps.length === 4 && ps.every((p) => p.dataset.phase === 'failed' && p.dataset.problem) &&
      ps.map((p) => p.querySelector('[data-testid="stream-state"]').textContent)`, grid), 10000);
  assert.ok(Date.now() - started < 5000, `tiles told after ${Date.now() - started} ms`);
  assert.ok(failed.every((text) => text.length > 0));
  await wd.screenshot(join(out, "camera-gone.png"));
  await until("shop offline", async () => (await linkOf("shop")) === "offline", 30000);
  assert.ok(Date.now() - started < 30000);
  assert.equal(await linkOf("hq"), "online");
  await tap('[data-testid="site-card"][data-site-id="warehouse"]');
});

test("a broker restart shows reconnecting, then everything correct again", async () => {
  await broker.kill();
  await until("reconnecting shown", async () => ["reconnecting", "connecting"].includes(await phase()), 20000);
  // Without its connection the app cannot vouch for a site being online.
  await until("hq no longer shown online", async () => (await linkOf("hq")) === "unknown");
  await wd.screenshot(join(out, "reconnecting.png"));
  await broker.start();
  await until("connected again", async () => (await phase()) === "connected", 60000);
  await until("hq and warehouse online again", async () =>
    (await linkOf("hq")) === "online" && (await linkOf("warehouse")) === "online", 30000);
  assert.equal(await linkOf("shop"), "offline", "the dead site must not come back by itself");
  // The open site page still shows its grid after the restart.
  const tiles = await wd.exec(`return document.querySelectorAll('[data-testid="site-page"] [data-testid="camera-tile"]').length`);
  assert.equal(tiles, 8);
  sites.shop.start();
  await until("shop back online", async () => (await linkOf("shop")) === "online", 30000);
  // Its cameras are back too, and the tiles play again by themselves.
  await tap('[data-testid="site-card"][data-site-id="shop"]');
  await until("shop's tiles playing again", async () => {
    const ps = await players('[data-testid="site-page"][data-site-id="shop"]');
    return ps.length === 4 && ps.every((p) => p.phase === "live" && p.ready >= 2);
  }, 30000);
});

test("the app killed during a burst of alerts: started again, it has every alert once, with no gap", async () => {
  const BURST = 150;
  // What this device's store holds, read by the CLI on the app's settings directory.
  const stored = () => {
    const json = execFileSync(cli, ["alerts", "--json", "--limit", "100000"], { env: { ...process.env, ...appEnv, RUST_LOG: "warn" } });
    return JSON.parse(json.toString()).filter((a) => a.siteId === "hq" && a.kind === "system");
  };
  const before = stored().length;
  // One alert every few milliseconds. A third of the way in, the system kills the app
  // (no goodbye to the broker, no flush) while alerts are in flight to it; two thirds of
  // the way in, the user starts it again.
  let opening = null;
  for (let i = 0; i < BURST; i++) {
    sites.hq.raise("system");
    if (i === BURST / 3) assert.equal(killByEnvironment(appEnv, "mimamori-app"), 1, "one app process killed");
    if (i === (2 * BURST) / 3) opening = wd.close().then(() => wd.open(app));
    await sleep(5);
  }
  await opening;
  await recordEvents();
  await until("connected after the restart", async () => (await phase()) === "connected", 30000);
  // Every alert of the burst is stored once: the broker kept what came while the app was
  // dead, and the site's replay fills what the kill lost in flight.
  const all = await until(`${BURST} alerts of the burst stored`, () => {
    const now = stored();
    return now.length >= before + BURST && now;
  }, 60000);
  assert.equal(all.length, before + BURST, "no alert twice");
  assert.equal(new Set(all.map((a) => a.id)).size, all.length);
  // What the user sees: the inbox lists them, and no possible gap.
  await tap('[data-testid="tab-alerts"]');
  await until("the burst in the inbox", () => wd.exec(`
    return document.querySelectorAll('[data-testid="alert-row"][data-site-id="hq"][data-kind="system"]').length >= arguments[0]`, BURST));
  assert.equal(await wd.exec(`return document.querySelectorAll('[data-testid="possible-gap"]').length`), 0);
  const text = execFileSync(cli, ["alerts", "--limit", "1"], { env: { ...process.env, ...appEnv, RUST_LOG: "warn" } }).toString();
  assert.ok(!text.includes("possible gap"), text);
});

test("an account revoked at the broker: the app says which one to enrol again, and the other goes on", async () => {
  // The owner's phone was lost: the administrator removes the user, and the broker restarts.
  const refused = () => broker.log().split("\n").filter((l) => /not authori[sz]ed/i.test(l)).length;
  const refusedBefore = refused();
  await broker.kill();
  broker.removeUser("owner");
  await broker.start();
  await tap('[data-testid="tab-settings"]');
  const profile = (label) => wd.exec(`const row = [...document.querySelectorAll('[data-testid="profile-row"]')]
    .find((r) => r.querySelector('.profile-label').textContent === arguments[0]);
    const c = row?.querySelector('[data-testid="profile-connection"]');
    return c ? { phase: c.dataset.phase, text: c.textContent } : null`, label);
  const revoked = await until("the owner's profile refused", async () => {
    const p = await profile("Shop Co.");
    return p?.phase === "stopped" && p;
  }, 30000);
  assert.match(revoked.text, /enrol it again|もう一度登録/);
  await until("the manager's profile connected again", async () => (await profile("Example Co."))?.phase === "connected", 30000);
  // The bar shows the connection furthest from working: the refusal, which needs the user.
  assert.equal(await phase(), "stopped");
  await wd.exec(`document.querySelector('[data-testid="profile-row"]').scrollIntoView({ block: 'start' })`);
  await sleep(300);
  await wd.screenshot(join(out, "revoked.png"));
  // It does not retry against the broker: one refused login in its log, not a storm.
  await sleep(3000);
  const refusals = refused() - refusedBefore;
  assert.ok(refusals >= 1 && refusals <= 2, `refused logins: ${refusals}\n${broker.log().slice(-2000)}`);
  // The manager's sites go on.
  await tap('[data-testid="tab-sites"]');
  await until("hq online", async () => (await linkOf("hq")) === "online", 30000);
});

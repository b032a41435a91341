// Processes for the end-to-end test: a private Mosquitto, simulated sites, a gateway site with
// its own broker and camera, tauri-driver, and a minimal W3C WebDriver client (no test-tool
// downloads; Node's fetch is enough).

import { spawn, execFileSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync, rmSync, readFileSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const PASSWORD = "e2e-pass-1";

/** @returns {Promise<number>} a free loopback port */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => resolve(typeof addr === "object" && addr ? addr.port : 0));
    });
  });
}

/** Whether nothing listens on the loopback port. */
function isFree(port) {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.on("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

/** A free port whose next one is free too: tauri-driver listens on both (its own and
 * WebKitWebDriver's), and a taken neighbour makes it fail to start. */
export async function freePortPair() {
  for (;;) {
    const port = await freePort();
    if (port < 65535 && (await isFree(port + 1))) return port;
  }
}

/** Resolves once something accepts TCP connections on the port. */
export async function waitForPort(port, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = connect(port, "127.0.0.1");
      s.once("connect", () => { s.destroy(); resolve(true); });
      s.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port}`);
    await sleep(50);
  }
}

/** Polls `fn` until it returns a truthy value. */
export async function until(what, fn, timeoutMs = 20000) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${String(last)})`);
    await sleep(100);
  }
}

/** Sends `signal` and waits for the exit; SIGKILL after 3 s. */
async function stopChild(child, signal) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill(signal);
  await Promise.race([exited, sleep(3000)]);
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

/** SIGKILLs every process whose environment has all of `env` (and, given `name`, whose
 * command is `name`): the app, should it have left the driver's process group, or the app
 * alone, as the system kills it. Returns how many it killed. */
export function killByEnvironment(env, name = null) {
  const wanted = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  let killed = 0;
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      if (name !== null && readFileSync(`/proc/${pid}/comm`, "utf8").trim() !== name) continue;
      const vars = readFileSync(`/proc/${pid}/environ`, "utf8").split("\0");
      if (Number(pid) !== process.pid && wanted.every((w) => vars.includes(w))) {
        process.kill(Number(pid), "SIGKILL");
        killed += 1;
      }
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return killed;
}

/** A certificate authority and a server certificate for `localhost`, made with openssl in
 * `dir`: { ca, cert, key } are file paths. */
export function makeTlsFiles(dir) {
  const f = (name) => join(dir, name);
  const run = (...args) => execFileSync("openssl", args, { stdio: "ignore" });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  run("req", "-x509", ...ec, "-keyout", f("ca.key"), "-out", f("ca.pem"), "-days", "2", "-subj", "/CN=Mimamori e2e CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign");
  run("req", ...ec, "-keyout", f("server.key"), "-out", f("server.csr"), "-subj", "/CN=localhost");
  writeFileSync(f("server.ext"), "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
  run("x509", "-req", "-in", f("server.csr"), "-CA", f("ca.pem"), "-CAkey", f("ca.key"), "-CAcreateserial",
    "-out", f("server.crt"), "-days", "2", "-extfile", f("server.ext"));
  return { ca: f("ca.pem"), cert: f("server.crt"), key: f("server.key") };
}

/** Who may do what in the end-to-end test, as an administrator writes it: the manager
 * operates hq and views warehouse; the owner, a second account on the same device, is admin
 * of shop and of office (a gateway site); `guard`, a colleague on another device, operates
 * hq. The broker's ACL is made from it by `mimamori broker acl`, and each site enforces its
 * own column (`mimamori-sim --roles`, the gateway's `[roles]`). */
export const ROLES = {
  sites: ["hq", "warehouse", "shop", "office"],
  users: { manager: { hq: "operator", warehouse: "viewer" }, owner: { shop: "admin", office: "admin" }, guard: { hq: "operator" } },
};

/** A Mosquitto of the test's own, with passwords and the ACL `cli broker acl` writes from
 * [ROLES] (its file: `roles`). `manager` and `owner` (two accounts enrolled on the same
 * device) log in with `managerPassword`; `guard` and `site-{id}` with PASSWORD. With `tls`
 * ({ cert, key } paths), `port` speaks only TLS and `plainPort` serves the simulated sites. */
export class Mosquitto {
  constructor(cli, port, managerPassword, tls = null, plainPort = port) {
    this.port = port;
    this.plainPort = plainPort;
    this.dir = mkdtempSync(join(tmpdir(), "mimamori-e2e-mosquitto-"));
    // Run as root, Mosquitto drops to its own user, which must be able to read its files.
    chmodSync(this.dir, 0o755);
    const passwd = join(this.dir, "passwd");
    writeFileSync(passwd, "");
    for (const user of ["manager", "owner"]) execFileSync("mosquitto_passwd", ["-b", passwd, user, managerPassword]);
    for (const user of ["site-hq", "site-warehouse", "site-shop", "site-office", "guard"]) {
      execFileSync("mosquitto_passwd", ["-b", passwd, user, PASSWORD]);
    }
    this.roles = join(this.dir, "roles.json");
    writeFileSync(this.roles, JSON.stringify(ROLES));
    writeFileSync(join(this.dir, "acl"), execFileSync(cli, ["broker", "acl", this.roles]));
    const listeners = tls
      ? [`listener ${port} 127.0.0.1`, `certfile ${tls.cert}`, `keyfile ${tls.key}`, `listener ${plainPort} 127.0.0.1`]
      : [`listener ${port} 127.0.0.1`];
    writeFileSync(join(this.dir, "mosquitto.conf"), [
      ...listeners, "allow_anonymous false", `password_file ${passwd}`,
      `acl_file ${join(this.dir, "acl")}`, "persistence false", "log_dest stderr", "",
    ].join("\n"));
    this.child = null;
    /** What the broker logged, across restarts (it runs as its own user, so it logs to
     * its standard error, unbuffered, rather than to a file in this directory). */
    this.output = "";
  }

  async start() {
    this.child = spawn("mosquitto", ["-c", join(this.dir, "mosquitto.conf")], { stdio: ["ignore", "pipe", "pipe"] });
    for (const stream of [this.child.stdout, this.child.stderr]) stream.on("data", (chunk) => { this.output += chunk.toString(); });
    await waitForPort(this.port);
  }

  /** Revokes `user`: removes it from the password file (read when the broker starts). */
  removeUser(user) {
    execFileSync("mosquitto_passwd", ["-D", join(this.dir, "passwd"), user]);
  }

  /** SIGKILL: the broker vanishes without a word. */
  async kill() {
    await stopChild(this.child, "SIGKILL");
    this.child = null;
  }

  log() {
    return this.output;
  }

  async dispose() {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The test's own notification service on the session bus (mimamori-notify-recorder):
 * every notification the app asks for lands in `shown`; `click` clicks one. */
export class NotifyRecorder {
  constructor(bin) {
    this.bin = bin;
    this.child = null;
    /** @type {{ id: number, replaces: number, app: string, summary: string, body: string, actions: string[], urgency: number | null, image: number[] | null, expire: number }[]} */
    this.shown = [];
  }

  async start() {
    this.child = spawn(this.bin, [], { stdio: ["pipe", "pipe", "inherit"] });
    await new Promise((resolve, reject) => {
      let rest = "";
      this.child.stdout.on("data", (chunk) => {
        rest += chunk.toString();
        const lines = rest.split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) {
          if (line === "READY") resolve();
          else if (line.startsWith("{")) this.shown.push(JSON.parse(line));
        }
      });
      this.child.on("exit", (code) => reject(new Error(`mimamori-notify-recorder exited with ${code}`)));
    });
  }

  click(id, action = "default") {
    this.child.stdin.write(`click ${id} ${action}\n`);
  }

  async dispose() {
    await stopChild(this.child, "SIGTERM");
    this.child = null;
  }
}

/** One simulated site as its own process (so it can be killed like a controller losing power). */
/** GStreamer's RTSP server (crates/sim/testdata/gst-rtsp-server.py) with some mounts. */
export class GstRtspServer {
  constructor(script, port, mounts) {
    this.script = script;
    this.port = port;
    this.mounts = mounts;
    this.child = null;
  }

  async start() {
    const args = [this.script, "--port", String(this.port), ...this.mounts.flatMap((m) => ["--only", m])];
    // Debian's python3 has the GObject bindings; a pyenv one on PATH would not.
    this.child = spawn("/usr/bin/python3", args, { stdio: ["ignore", "pipe", "inherit"] });
    await new Promise((resolve, reject) => {
      let out = "";
      this.child.stdout.on("data", (chunk) => {
        out += chunk.toString();
        if (out.includes("READY")) resolve();
      });
      this.child.on("exit", (code) => reject(new Error(`gst-rtsp-server.py exited with ${code}`)));
    });
  }

  url(mount) {
    return `rtsp://127.0.0.1:${this.port}/${mount}`;
  }

  async dispose() {
    await stopChild(this.child, "SIGTERM");
    this.child = null;
  }
}

export class Site {
  /** `extra`: more arguments for mimamori-sim (e.g. `--camera-url`). */
  constructor(bin, brokerPort, id, cameraPort, extra = []) {
    this.bin = bin;
    this.brokerPort = brokerPort;
    this.id = id;
    this.cameraPort = cameraPort;
    this.extra = extra;
    this.child = null;
  }

  start() {
    // Something happens every few seconds at each site: the alerts the inbox must show.
    // Its cameras are served over RTSP on their own port, as a site's cameras would be.
    const args = ["--broker", `mqtt://127.0.0.1:${this.brokerPort}`, "--site", this.id, "--alert-every", "3", "--cameras", String(this.cameraPort), ...this.extra];
    this.child = spawn(this.bin, args, {
      stdio: ["pipe", "ignore", "ignore"],
      env: { ...process.env, MIMAMORI_SIM_PASSWORD: PASSWORD, RUST_LOG: "warn" },
    });
  }

  /** Raises an alert of `kind` now, at one of the site's cameras when `camera` is given. */
  raise(kind, camera = "") {
    this.child.stdin.write(`alert ${this.id} ${kind} ${camera}\n`);
  }

  async kill() {
    await stopChild(this.child, "SIGKILL");
    this.child = null;
  }
}

/** A site's own broker, where Zigbee2MQTT publishes its devices and the gateway reads them:
 * a Mosquitto on loopback without accounts, as such a broker is often set up beside them. */
export class SiteBroker {
  constructor(port) {
    this.port = port;
    this.dir = mkdtempSync(join(tmpdir(), "mimamori-e2e-site-broker-"));
    chmodSync(this.dir, 0o755);
    writeFileSync(join(this.dir, "mosquitto.conf"),
      [`listener ${port} 127.0.0.1`, "allow_anonymous true", "persistence false", "log_dest none", ""].join("\n"));
    this.child = null;
  }

  async start() {
    this.child = spawn("mosquitto", ["-c", join(this.dir, "mosquitto.conf")], { stdio: "ignore" });
    await waitForPort(this.port);
  }

  /** Publishes `file` to `topic` as a device would (QoS 1). */
  publish(topic, file) {
    execFileSync("mosquitto_pub", ["-h", "127.0.0.1", "-p", String(this.port), "-q", "1", "-t", topic, "-f", file]);
  }

  async dispose() {
    await stopChild(this.child, "SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A camera's HTTP snapshot endpoint behind Digest authentication
 * (crates/sim/testdata/snapshot-server.py): `url` once started. */
export class SnapshotServer {
  constructor(script, jpeg, user, password) {
    Object.assign(this, { script, jpeg, user, password });
    this.child = null;
    this.url = "";
  }

  async start() {
    this.child = spawn("/usr/bin/python3", [this.script, "--jpeg", this.jpeg, "--user", this.user], {
      stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, SNAPSHOT_PASSWORD: this.password },
    });
    const port = await new Promise((resolve, reject) => {
      let out = "";
      this.child.stdout.on("data", (chunk) => {
        out += chunk.toString();
        const m = /READY (\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      this.child.on("exit", (code) => reject(new Error(`snapshot-server.py exited with ${code}`)));
    });
    this.url = `http://127.0.0.1:${port}/digest/snapshot.jpg`;
  }

  async dispose() {
    await stopChild(this.child, "SIGTERM");
  }
}

/** `mimamori-gateway run` with `config` (TOML text) and `secrets` (name → value), handed
 * over as systemd would: a credentials directory only its owner reads. Its log: `log()`. */
export class Gateway {
  constructor(bin, config, secrets) {
    this.bin = bin;
    this.dir = mkdtempSync(join(tmpdir(), "mimamori-e2e-gateway-"));
    this.config = join(this.dir, "gateway.toml");
    writeFileSync(this.config, config);
    this.credentials = join(this.dir, "credentials");
    mkdirSync(this.credentials, { mode: 0o700 });
    for (const [name, value] of Object.entries(secrets)) writeFileSync(join(this.credentials, name), value, { mode: 0o600 });
    this.child = null;
    this.output = "";
  }

  /** Starts it and waits until its site is connected to the central broker. */
  async start() {
    this.child = spawn(this.bin, ["run", this.config], {
      stdio: ["ignore", "ignore", "pipe"],
      env: { ...process.env, CREDENTIALS_DIRECTORY: this.credentials, RUST_LOG: "info", NO_COLOR: "1" },
    });
    this.child.stderr.on("data", (chunk) => { this.output += chunk.toString(); });
    // (Should it exit instead, the timeout's message carries what it said.)
    await until("the gateway's site connected", () => {
      if (this.child.exitCode !== null) throw new Error(`mimamori-gateway exited: ${this.output}`);
      return this.output.includes("site connected");
    }, 30000);
  }

  /** `mimamori-gateway ARGS… CONFIG`, its standard output. */
  run(...args) {
    return execFileSync(this.bin, [...args, this.config], { env: { ...process.env, CREDENTIALS_DIRECTORY: this.credentials } }).toString();
  }

  log() {
    return this.output;
  }

  async dispose() {
    await stopChild(this.child, "SIGTERM");
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** tauri-driver under the current DISPLAY; the app inherits `env`. */
export class TauriDriver {
  /** `port`: from `freePortPair`, since WebKitWebDriver takes the next one. */
  constructor(port, env) {
    this.port = port;
    this.env = env;
    this.child = null;
    /** Everything the driver and the app printed, to be searched for secrets. */
    this.output = "";
  }

  async start() {
    this.child = spawn("tauri-driver", ["--port", String(this.port), "--native-port", String(this.port + 1)], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, ...this.env },
      // Its own process group, so that stopping it also stops WebKitWebDriver and the app.
      detached: true,
    });
    for (const stream of [this.child.stdout, this.child.stderr]) {
      stream?.on("data", (chunk) => {
        this.output += chunk.toString();
        process.stderr.write(chunk);
      });
    }
    await waitForPort(this.port);
  }

  /** Stops the driver, WebKitWebDriver and the app: closing the WebDriver session does
   * not always end the app, and an app left running would keep the test run alive. */
  async stop() {
    const child = this.child;
    this.child = null;
    if (!child?.pid) return;
    const group = -child.pid;
    const signal = (sig) => { try { process.kill(group, sig); } catch { /* already gone */ } };
    signal("SIGTERM");
    await Promise.race([new Promise((r) => child.once("exit", r)), sleep(3000)]);
    signal("SIGKILL");
    killByEnvironment(this.env);
    child.stdout?.destroy();
    child.stderr?.destroy();
  }
}

/** The few W3C WebDriver calls the test needs. */
export class WebDriver {
  constructor(port) {
    this.base = `http://127.0.0.1:${port}`;
    this.session = "";
  }

  async call(method, path, body) {
    // tauri-driver 2.x sometimes drops a request ("connection reset"); retry such a request.
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await fetch(this.base + path, {
          method,
          headers: body ? { "content-type": "application/json" } : undefined,
          body: body ? JSON.stringify(body) : undefined,
        });
        const json = await res.json();
        if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${JSON.stringify(json.value ?? json)}`);
        return json.value;
      } catch (e) {
        const reset = e instanceof TypeError || /ECONNRESET|socket hang up|fetch failed/.test(String(e));
        if (!reset || attempt >= 4) throw e;
        await sleep(200);
      }
    }
  }

  /** Starts `application` with `args` in a new session. */
  async open(application, args = []) {
    const caps = { "tauri:options": { application, args } };
    const value = await this.call("POST", "/session", { capabilities: { alwaysMatch: caps, firstMatch: [{}] } });
    this.session = value.sessionId;
  }

  async close() {
    if (this.session) await this.call("DELETE", `/session/${this.session}`).catch(() => {});
    this.session = "";
  }

  /** Runs a script in the page; returns its value. */
  exec(script, ...args) {
    return this.call("POST", `/session/${this.session}/execute/sync`, { script, args });
  }

  /** Runs an asynchronous script: it calls its last argument with the result. */
  execAsync(script, ...args) {
    return this.call("POST", `/session/${this.session}/execute/async`, { script, args });
  }

  async find(css) {
    const value = await this.call("POST", `/session/${this.session}/element`, { using: "css selector", value: css });
    return Object.values(value)[0];
  }

  /** Types into an input or textarea (replacing nothing: clear it first if needed). */
  async type(css, text) {
    const id = await this.find(css);
    await this.call("POST", `/session/${this.session}/element/${id}/value`, { text });
  }

  async click(css) {
    const id = await this.find(css);
    await this.call("POST", `/session/${this.session}/element/${id}/click`, {});
  }

  async setWindowSize(width, height) {
    await this.call("POST", `/session/${this.session}/window/rect`, { width, height });
  }

  async screenshot(path) {
    const b64 = await this.call("GET", `/session/${this.session}/screenshot`);
    writeFileSync(path, Buffer.from(b64, "base64"));
  }
}

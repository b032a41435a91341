// The installed app (the `mimamori` package, /usr/bin/mimamori-app) as a user meets it:
// from the menu on the demo, its sites online and a camera playing; on a new device, a
// mimamori:// link opened with xdg-open reaches the running app at its enrolment form.
// Run by tests/packages/run after installing the packages, under scripts/with-desktop.

import { test } from "node:test";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { TauriDriver, WebDriver, freePortPair, until } from "../e2e/harness.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const out = join(root, "tests", "e2e", "out");
mkdirSync(out, { recursive: true });
const app = "/usr/bin/mimamori-app";

/** Runs `body(wd, env)` against the installed app started with `args`, on a settings
 * directory of its own. */
async function withApp(args, body) {
  const config = mkdtempSync(join(tmpdir(), "mimamori-installed-"));
  const env = { MIMAMORI_CONFIG_DIR: config, XDG_CONFIG_HOME: join(config, "xdg"), RUST_LOG: "warn" };
  const driver = new TauriDriver(await freePortPair(), env);
  await driver.start();
  const wd = new WebDriver(driver.port);
  try {
    await wd.open(app, args);
    await body(wd, env);
  } finally {
    await wd.close();
    await driver.stop();
    rmSync(config, { recursive: true, force: true });
  }
}

test("the installed app runs the demo: its sites online, a camera playing", async () => {
  await withApp(["--demo"], async (wd) => {
    const links = () => wd.exec(`return [...document.querySelectorAll('[data-testid="site-card"]')].map((c) => c.dataset.link)`);
    await until("the demo's sites online", async () => {
      const l = await links();
      return l.length >= 2 && l.every((x) => x === "online");
    }, 30000);
    await wd.click('[data-testid="site-card"]');
    await until("a camera playing", () => wd.exec(`return [...document.querySelectorAll('[data-testid="player"]')]
      .some((p) => p.dataset.phase === 'live' && p.querySelector('video').readyState >= 2)`), 30000);
    await wd.screenshot(join(out, "installed-demo.png"));
  });
});

test("a mimamori:// link opened with xdg-open brings the installed app to its enrolment form, filled in", async () => {
  await withApp([], async (wd, env) => {
    await until("the enrolment form", () => wd.exec(`return !!document.querySelector('[data-testid="enrol-form"]')`), 30000);
    // As a click in an e-mail does: the desktop starts the handler it has for the scheme,
    // which hands the link to the running app and exits.
    const link = "mimamori://enroll?code=MMR1.package-link-check";
    execFileSync("xdg-open", [link], { env: { ...process.env, ...env }, timeout: 20000 });
    // (Before the first enrolment the form is on the Sites tab.)
    await until("the enrolment form, filled in, the PIN next", () => wd.exec(`return document.querySelector('[data-testid="enrol-code"]')?.value === arguments[0]
      && document.activeElement?.dataset.testid === 'enrol-pin'`, link), 20000);
    await wd.screenshot(join(out, "installed-link.png"));
  });
});

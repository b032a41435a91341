// One table of every benchmark of the run (scripts/bench): the JSON each benchmark wrote
// to target/bench/ (video, soak, alerts, gateway, switch, scale, transport), printed together — figure, value, baseline,
// ratio, target, met — and written to target/bench/all.json for tracking.

import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const dir = join(resolve(dirname(fileURLToPath(import.meta.url)), "../.."), "target", "bench");
const parts = ["video", "soak", "alerts", "gateway", "switch", "scale", "transport"];
const rows = [];
for (const part of parts) {
  const file = join(dir, `${part}.json`);
  if (!existsSync(file)) {
    console.log(`(no ${part}.json: that benchmark did not run)`);
    continue;
  }
  for (const r of JSON.parse(readFileSync(file, "utf8"))) rows.push({ bench: part, ...r });
}
const show = (v, unit) => `${v < 10 ? v.toFixed(1) : v.toFixed(0)} ${unit}`;
const width = Math.max(...rows.map((r) => r.figure.length), 6);
console.log(`${"bench".padEnd(9)} ${"figure".padEnd(width)} ${"value".padStart(10)}  ${"baseline".padEnd(32)} ${"".padStart(10)} ${"ratio".padStart(8)}  ${"target".padEnd(11)} met`);
for (const r of rows) {
  console.log(`${r.bench.padEnd(9)} ${r.figure.padEnd(width)} ${show(r.value, r.unit).padStart(10)}  ${r.baseline.padEnd(32)} ${show(r.baselineValue, r.unit).padStart(10)} ${`${(r.value / r.baselineValue).toFixed(2)}×`.padStart(8)}  ${r.target.padEnd(11)} ${r.met ? "yes" : "NO"}`);
}
writeFileSync(join(dir, "all.json"), JSON.stringify(rows, null, 2));
console.log(`\n${rows.filter((r) => !r.met).length} of ${rows.length} figures miss their target; table in ${join(dir, "all.json")}`);

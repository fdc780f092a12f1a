// The web console in a real browser (Debian's headless Chromium, driven by puppeteer-core):
// the page lists every member up and draws the ring; after the victim qkvd is killed with
// SIGKILL, its row shows it down within 10 s. A screenshot is saved either way, so a
// reviewer can look at the page.
//
//   node console_test.mjs --url http://127.0.0.1:PORT/console --members 3 --partitions 64 \
//        --kill-pid PID --victim n3 --screenshot out.png
//
// Exit status 0 when every check holds, 1 otherwise (with the reason on stderr).
import puppeteer from "puppeteer-core";
import { parseArgs } from "node:util";

const { values: args } = parseArgs({
  options: {
    url: { type: "string" },
    members: { type: "string", default: "3" },
    partitions: { type: "string", default: "64" },
    "kill-pid": { type: "string" },
    victim: { type: "string" },
    screenshot: { type: "string" },
    chromium: { type: "string", default: "/usr/bin/chromium" },
  },
});

const members = Number(args.members);
const log = (...a) => console.log("console_test:", ...a);

const browser = await puppeteer.launch({
  executablePath: args.chromium,
  headless: true,
  // As root in a sandboxless CI machine with no network but loopback: no sandbox, and no
  // background connections (they would be refused, many at a time).
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage"],
});
let failure = null;
const page = await browser.newPage();
await page.setViewport({ width: 1280, height: 900 });
try {
  await page.goto(args.url, { waitUntil: "load", timeout: 15000 });
  // Every member listed, and up.
  await page.waitForFunction(
      n => {
        const rows = [...document.querySelectorAll("#members tbody tr")];
        return rows.length === n && rows.every(r => r.cells[1].textContent === "up");
      },
      { timeout: 15000, polling: 200 }, members);
  log(`${members} members listed, all up`);
  // The ring and the per-node figures come from requests of their own (the ring's, and
  // each member's /api/v1/stats): wait for them, within a bound, rather than read at once.
  const drawn = (selector, n) => page.waitForFunction(
      (sel, want) => document.querySelectorAll(sel).length === want,
      { timeout: 15000, polling: 200 }, selector, n).then(() => true, () => false);
  await drawn("#ring path", Number(args.partitions));
  const slices = await page.$$eval("#ring path", paths => paths.length);
  if (slices !== Number(args.partitions)) {
    throw new Error(`the ring shows ${slices} partitions, expected ${args.partitions}`);
  }
  await drawn("#stats tbody tr", members);
  const rows = await page.$$eval("#stats tbody tr", trs => trs.length);
  if (rows !== members) throw new Error(`requests per node: ${rows} rows, expected ${members}`);
  log(`ring drawn with ${slices} partitions; request figures for ${rows} nodes`);

  const killedAt = Date.now();
  process.kill(Number(args["kill-pid"]), "SIGKILL");
  await page.waitForFunction(
      victim => [...document.querySelectorAll("#members tbody tr")].some(
          r => r.cells[0].textContent === victim && r.cells[1].textContent === "down"),
      { timeout: 10000, polling: 200 }, args.victim);
  log(`${args.victim} shown down ${Date.now() - killedAt} ms after kill -9`);
} catch (e) {
  failure = e;
} finally {
  if (args.screenshot) {
    await page.screenshot({ path: args.screenshot, fullPage: true });
    log(`screenshot: ${args.screenshot}`);
  }
  await browser.close();
}
if (failure) {
  console.error("console_test: FAILED:", failure.message);
  process.exit(1);
}
log("ok");

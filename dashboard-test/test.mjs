// Browser test of the ops dashboard: start the real hookgate binary, feed it known traffic
// (signed with `hookgate send`, so through the same providers the gateway verifies), check the
// stats API against what was sent, then open /dashboard in headless Chromium and check that
// the figures it shows are the API's, browse and search events, replay an event with the
// button, retry dead letters one by one and all at once from the dead-letter view, pause and
// resume a handler, and save screenshots.
//
//   HOOKGATE_BIN   the binary (default ../target/debug/hookgate)
//   CHROMIUM       the browser (default /usr/bin/chromium)
//   UPDATE_SCREENSHOT=1  also write docs/dashboard.png, after seeding an hour of synthetic
//                  history into the stats table (needs the sqlite3 CLI) so the chart has a shape
//
// Prints "dashboard: N passed, 0 failed" and exits 0, or exits 1 at the first failure.

import { chromium } from "playwright-core";
import { execFile, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "..");
const BIN = process.env.HOOKGATE_BIN || path.join(root, "target/debug/hookgate");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const OUT = path.join(here, "out");
const UPDATE_SCREENSHOT = process.env.UPDATE_SCREENSHOT === "1";
const run = promisify(execFile);

let passed = 0;
function check(cond, what, detail) {
  if (!cond) {
    throw new Error(`FAILED: ${what}${detail === undefined ? "" : `\n  got: ${JSON.stringify(detail)}`}`);
  }
  passed += 1;
}
function equal(got, want, what) {
  check(JSON.stringify(got) === JSON.stringify(want), `${what} (want ${JSON.stringify(want)})`, got);
}
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
async function until(what, fn, ms = 15000) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await fn();
    if (last) return last;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}
function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, "127.0.0.1", () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

// A handler endpoint: records what it receives and answers `status()`.
function receiver(status) {
  const got = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      got.push({ key: req.headers["idempotency-key"], attempt: req.headers["hookgate-attempt"] });
      res.writeHead(status());
      res.end("ok");
    });
  });
  return new Promise((resolve) => server.listen(0, "127.0.0.1", () =>
    resolve({ url: `http://127.0.0.1:${server.address().port}/hook`, got, close: () => server.close() })));
}

const cleanup = [];
let currentPage = null; // for a screenshot when a check fails
async function main() {
  fs.mkdirSync(OUT, { recursive: true });
  check(fs.existsSync(BIN), `the hookgate binary exists at ${BIN} (cargo build --bin hookgate)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hookgate-dashboard-"));
  cleanup.push(() => fs.rmSync(dir, { recursive: true, force: true }));
  const secret = (name, value) => {
    const p = path.join(dir, name);
    fs.writeFileSync(p, value);
    return p;
  };
  const adminToken = randomBytes(24).toString("hex");
  const whsec = "whsec_" + randomBytes(24).toString("base64");
  const billing = await receiver(() => 200);
  let auditHealthy = false;
  const audit = await receiver(() => (auditHealthy ? 200 : 503));
  cleanup.push(() => billing.close(), () => audit.close());

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const db = path.join(dir, "hookgate.db");
  const config = path.join(dir, "hookgate.toml");
  fs.writeFileSync(config, `
[server]
listen = "127.0.0.1:${port}"

[store]
url = "sqlite://${db}"

[stats]
flush_interval = "1s"

[admin]
token = "file:${secret("admin", adminToken)}"

[dispatch]
poll_interval = "100ms"

[sources.stripe]
provider = "stripe"
secrets = ["file:${secret("stripe", "whsec_dashboard_test_secret")}"]

[sources.github]
provider = "github"
secrets = ["file:${secret("github", "dashboard github secret")}"]

[sources.orders]
provider = "internal"
secrets = ["file:${secret("orders", "dashboard-internal-key")}"]

[handlers.billing]
kind = "http"
url = "${billing.url}"
sources = ["stripe"]
secret = "file:${secret("billing", whsec)}"

[handlers.audit]
kind = "http"
url = "${audit.url}"
sources = ["github"]
secret = "file:${secret("audit", whsec)}"
max_attempts = 2
backoff_base = "10ms"
backoff_cap = "20ms"
`);

  const gateway = spawn(BIN, ["serve", "--config", config], {
    env: { ...process.env, RUST_LOG: "warn" },
    stdio: ["ignore", "inherit", "inherit"],
  });
  cleanup.push(() => gateway.kill("SIGTERM"));
  await until("the gateway to be ready", async () => {
    try { return (await fetch(base + "/readyz")).ok; } catch { return false; }
  }, 30000);

  // ---- known traffic ----
  const send = async (source, eventId, body, extra = [], wantExit = 0) => {
    const args = ["--config", config, "send", source, "--to", base, "--event-id", eventId, "--body", body, ...extra];
    try {
      await run(BIN, args, { env: { ...process.env, RUST_LOG: "error" } });
      check(wantExit === 0, `hookgate send ${source} ${eventId} ${extra.join(" ")} should have been refused`);
    } catch (e) {
      check(wantExit !== 0 && e.code === wantExit, `hookgate send ${source} ${eventId} ${extra.join(" ")} exits ${wantExit}`, e.stdout || e.message);
    }
  };
  const stripeBody = (id, amount = 100) => JSON.stringify({ id, object: "event", type: "invoice.paid", data: { amount } });
  const sent = { stripe: { requests: 0, accepted: 0, duplicates: 0, body_mismatches: 0, rejected: 0 } };

  for (let i = 1; i <= 12; i++) await send("stripe", `evt_dash_${i}`, stripeBody(`evt_dash_${i}`));
  for (const id of ["evt_dash_1", "evt_dash_1", "evt_dash_1", "evt_dash_2"]) await send("stripe", id, stripeBody(id));
  await send("stripe", "evt_dash_3", stripeBody("evt_dash_3", 999)); // repeat with a different body
  for (let i = 0; i < 3; i++) await send("stripe", "evt_bad", stripeBody("evt_bad"), ["--tamper"], 1);
  for (let i = 0; i < 2; i++) await send("stripe", "evt_old", stripeBody("evt_old"), ["--age", "1h"], 1);
  const unsigned = await fetch(base + "/webhooks/stripe", { method: "POST", body: stripeBody("evt_unsigned") });
  equal(unsigned.status, 401, "an unsigned request is refused");
  for (const name of ["shopify", "paypal"]) {
    const r = await fetch(`${base}/webhooks/${name}`, { method: "POST", body: "{}" });
    equal(r.status, 404, `an unknown source (${name}) is refused`);
  }
  const ghBody = JSON.stringify({ action: "opened", number: 7 });
  for (const id of ["gh-1", "gh-2", "gh-3", "gh-4", "gh-1", "gh-2"]) await send("github", id, ghBody);
  await send("github", "gh-bad", ghBody, ["--tamper"], 1);
  await send("orders", "order-1", JSON.stringify({ order: 1 }));
  await send("orders", "order-2", JSON.stringify({ order: 2 }));
  await send("orders", "order-1", JSON.stringify({ order: 1, changed: true }), [], 1);

  const expected = {
    stripe: { requests: 23, accepted: 12, duplicates: 5, body_mismatches: 1, rejected: 6,
      rejections: { invalid_signature: 3, missing_signature: 1, stale_timestamp: 2 } },
    github: { requests: 7, accepted: 4, duplicates: 2, body_mismatches: 0, rejected: 1,
      rejections: { invalid_signature: 1 } },
    orders: { requests: 3, accepted: 2, duplicates: 0, body_mismatches: 0, rejected: 1,
      rejections: { idempotency_key_reused: 1 } },
    "(unknown)": { requests: 2, accepted: 0, duplicates: 0, body_mismatches: 0, rejected: 2,
      rejections: { unknown_source: 2 } },
  };

  // ---- the API reports what was sent ----
  const api = async (p, init = {}) => {
    const r = await fetch(base + "/api" + p, { ...init, headers: { Authorization: "Bearer " + adminToken } });
    check(r.ok, `GET /api${p} answers 200`, r.status);
    return r.json();
  };
  // Deliveries settle: billing gets the 12 stripe events, audit's 4 go dead after 2 attempts.
  let stats = await until("deliveries to settle", async () => {
    const s = await api("/stats?window=1h");
    const h = Object.fromEntries(s.handlers.map((x) => [x.handler, x]));
    return h.billing?.live.delivered === 12 && h.audit?.live.dead === 4 && h.audit?.failed_attempts === 8 ? s : null;
  });
  for (const [name, want] of Object.entries(expected)) {
    const src = stats.sources.find((x) => x.source === name);
    check(src, `the API lists source ${name}`);
    const got = { requests: src.requests, accepted: src.accepted, duplicates: src.duplicates,
      body_mismatches: src.body_mismatches, rejected: src.rejected, rejections: src.rejections };
    equal(got, want, `API figures of ${name} match the traffic sent`);
  }
  const stripeApi = stats.sources.find((x) => x.source === "stripe");
  equal(stripeApi.duplicate_rate, 5 / 17, "stripe duplicate rate is 5/17");
  equal(stripeApi.time_to_duplicate.reduce((a, b) => a + b.count, 0), 5, "the time-to-duplicate histogram holds every repeat");
  equal(stats.totals.requests, 35, "total requests");

  // Prometheus agrees.
  const metrics = await (await fetch(base + "/metrics")).text();
  check(metrics.includes('hookgate_ingest_rejections_total{source="stripe",reason="stale_timestamp"} 2'), "metrics count stale timestamps", metrics);
  check(metrics.includes('hookgate_ingest_events_total{source="stripe",outcome="duplicate"} 5'), "metrics count stripe duplicates");
  check(metrics.includes('hookgate_deliveries_dead{handler="audit"} 4'), "metrics show audit's dead deliveries");
  check(!metrics.includes("evt_dash"), "no event id in /metrics");

  // ---- the dashboard shows the API's figures ----
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  cleanup.push(() => browser.close());
  const page = await browser.newPage({ viewport: { width: 1440, height: 1000 }, deviceScaleFactor: 1 });
  currentPage = page;
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  // Failed requests are expected (the wrong token's 401, the favicon's 404); script errors are not.
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) pageErrors.push(m.text());
  });
  await page.goto(base + "/dashboard?refresh=2&page_size=10");
  await page.waitForSelector("#token", { state: "visible" });
  await page.fill("#token", "wrong-token");
  await page.click("#login-button");
  await page.waitForFunction(() => document.getElementById("login-error").textContent.includes("refused"));
  check(true, "a wrong token is refused");
  await page.fill("#token", adminToken);
  await page.click("#login-button");
  await page.waitForSelector('[data-testid="kpi-requests"]');
  equal(await page.inputValue("#token"), "", "the token field is cleared after signing in");

  const value = (testid) => page.getAttribute(`[data-testid="${testid}"]`, "data-value");
  const text = (testid) => page.textContent(`[data-testid="${testid}"]`);
  // Refresh the API view as the page's last refresh saw it: compare at one generated_at.
  stats = await api("/stats?window=1h");
  await page.click("#refresh");
  await sleep(500);
  for (const [k, want] of [["requests", stats.totals.requests], ["accepted", stats.totals.accepted],
    ["duplicates", stats.totals.duplicates], ["body_mismatches", stats.totals.body_mismatches], ["rejected", stats.totals.rejected]]) {
    equal(Number(await value("kpi-" + k)), want, `KPI ${k} shows the API's total`);
  }
  for (const src of stats.sources) {
    const id = "src-" + src.source;
    for (const k of ["requests", "accepted", "duplicates", "body_mismatches", "rejected"]) {
      equal(Number(await value(`${id}-${k}`)), src[k], `${src.source} ${k} on the page`);
      equal((await text(`${id}-${k}`)).replaceAll(",", ""), String(src[k]), `${src.source} ${k} text`);
    }
    for (const [reason, n] of Object.entries(src.rejections)) {
      equal(Number(await value(`${id}-rejected-${reason}`)), n, `${src.source} rejections for ${reason}`);
    }
    if (src.duplicates > 0) {
      for (const b of src.time_to_duplicate) {
        equal(Number(await value(`${id}-ttd-${b.bucket}`)), b.count, `${src.source} time-to-duplicate ${b.bucket}`);
      }
    }
    const chart = `[data-testid="chart-${src.source}"]`;
    equal(Number(await page.getAttribute(chart, "data-points")), 60, `${src.source} chart has 60 one-minute points`);
    equal(Number(await page.getAttribute(chart, "data-duplicates")), src.duplicates, `${src.source} chart plots every duplicate`);
  }
  equal(await text("src-stripe-duplicate-rate"), "29.4%duplicates", "stripe's duplicate rate is shown as a percentage");
  check(await page.$('[data-testid="chart-stripe"] path.line, [data-testid="chart-stripe"] circle.pt'), "stripe's chart draws the duplicate rate");
  for (const hnd of stats.handlers) {
    const id = "handler-" + hnd.handler;
    for (const [k, want] of [["pending", hnd.live.pending], ["retrying", hnd.live.retrying], ["dead", hnd.live.dead],
      ["delivered", hnd.delivered], ["failed_attempts", hnd.failed_attempts], ["went_dead", hnd.dead]]) {
      equal(Number(await value(`${id}-${k}`)), want, `handler ${hnd.handler} ${k}`);
    }
  }
  const html = await page.content();
  check(!html.includes(adminToken), "the admin token is never shown in the page");
  check(!html.includes("whsec_dashboard_test_secret") && !html.includes(whsec), "no secret in the page");
  await shoot(page, path.join(OUT, "dashboard-full.png"));

  // ---- events browser: paging and search ----
  await page.waitForSelector('[data-testid="event-row"]');
  equal((await page.$$('[data-testid="event-row"]')).length, 10, "first page of 10 events");
  await page.click("#older");
  await page.waitForFunction(() => document.getElementById("page-info").textContent === "page 2");
  equal((await page.$$('[data-testid="event-row"]')).length, 8, "second page holds the other 8 of 18 events");
  await page.click("#newer");
  await page.waitForFunction(() => document.getElementById("page-info").textContent === "page 1");
  await page.selectOption("#f-status", "dead");
  await page.click('#event-search button[type="submit"]');
  await page.waitForFunction(() => [...document.querySelectorAll('[data-testid="event-row"]')].every((r) => r.dataset.eventId.startsWith("gh-")));
  equal((await page.$$('[data-testid="event-row"]')).length, 4, "the status filter finds the 4 events with dead deliveries");
  await page.click("#clear");
  await page.fill("#q", "evt_dash_3");
  await page.press("#q", "Enter");
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="event-row"]').length === 1
    && document.querySelector('[data-testid="event-row"]').dataset.eventId === "evt_dash_3");
  check(true, "search by event id finds the one event");

  // ---- event detail and replay ----
  await page.click('[data-testid="event-row"]');
  await page.waitForSelector('[data-testid="detail-event-id"]');
  equal(await text("detail-event-id"), "evt_dash_3", "the detail shows the event");
  const detailBody = await text("detail-body");
  check(detailBody.includes('"amount": 100'), "the detail shows the original body, not the mismatched repeat", detailBody);
  const delivery = '[data-testid="delivery"][data-handler="billing"]';
  equal(await page.getAttribute(delivery, "data-state"), "delivered", "billing's delivery is delivered");
  const before = billing.got.filter((g) => g.key === "stripe:evt_dash_3").length;
  equal(before, 1, "billing received evt_dash_3 once");
  await page.screenshot({ path: path.join(OUT, "event-detail.png") });
  await page.click('[data-testid="replay"]');
  await page.waitForSelector(".toast:not(.err)");
  equal((await page.textContent(".toast")).trim(), "Replay queued: 1 delivery", "the replay button queues one delivery");
  await until("the replayed delivery to reach billing", async () => billing.got.filter((g) => g.key === "stripe:evt_dash_3").length === 2);
  const detail = await until("the replay to be recorded", async () => {
    const ev = await api("/events/" + (await page.getAttribute('[data-testid="event-row"]', "data-id")));
    const d = ev.deliveries.find((x) => x.handler === "billing");
    return d.state === "delivered" && d.attempts_log.length === 2 ? ev : null;
  });
  check(detail, "the replay shows up as a second attempt in the API");
  await page.waitForFunction((sel) => document.querySelectorAll(sel + " tbody tr").length === 2, delivery);
  check(true, "the drawer shows both attempts after the replay");
  await page.click('[aria-label="Close"]');

  // ---- dead letters: per delivery, then all of a handler ----
  await page.selectOption("#dead-handler", "audit");
  await page.waitForFunction(() => document.querySelectorAll('[data-testid="dead-row"]').length === 4, null, { timeout: 10000 });
  const deadRows = await page.$$eval('[data-testid="dead-row"]', (rows) => rows.map((r) => ({
    event: r.dataset.eventId, id: r.dataset.deliveryId,
    attempts: r.querySelector('[data-testid="dead-attempts"]').textContent,
    error: r.querySelector('[data-testid="dead-error"]').textContent,
  })));
  check(deadRows.every((r) => r.event.startsWith("gh-")), "the dead-letter view lists audit's dead deliveries", deadRows);
  check(deadRows.every((r) => r.attempts === "2" && r.error.includes("503")), "each with its attempts and last error", deadRows);
  const deadApi = await api("/deliveries?handler=audit&state=dead");
  equal(deadApi.deliveries.map((d) => d.id).sort(), deadRows.map((r) => r.id).sort(), "the view shows the API's dead deliveries");
  const deadText = await page.textContent('[data-testid="dead-letters"]');
  check(!deadText.includes(adminToken) && !deadText.includes("whsec_"), "no secret in the dead-letter view");
  auditHealthy = true;
  const first = deadRows[0];
  await page.click(`[data-testid="dead-row"][data-delivery-id="${first.id}"] [data-testid="dead-retry"]`);
  await page.waitForFunction(() => [...document.querySelectorAll(".toast")].some((t) => t.textContent.includes("queued again")));
  await page.waitForFunction((id) => document.querySelectorAll('[data-testid="dead-row"]').length === 3
    && !document.querySelector(`[data-testid="dead-row"][data-delivery-id="${id}"]`), first.id, { timeout: 10000 });
  check(true, "the retried delivery leaves the dead-letter list");
  await until("the retried delivery to be delivered", async () => (await api("/deliveries/" + first.id)).state === "delivered");
  check(audit.got.some((g) => g.key === `github:${first.event}` && g.attempt === "1"), "audit received it again, attempt 1 of a fresh budget", audit.got);
  await page.click('[data-testid="dead-retry-all"]');
  await page.waitForFunction(() => [...document.querySelectorAll(".toast")].some((t) => t.textContent.includes("3 dead deliveries of audit")));
  check(true, "retry all dead queues audit's other 3");
  await page.waitForSelector('[data-testid="dead-empty"]', { timeout: 10000 });
  check(true, "the dead-letter view is empty afterwards");
  await until("audit's retried deliveries to be delivered", async () => {
    const s = await api("/stats?window=1h");
    const a = s.handlers.find((x) => x.handler === "audit");
    return a.live.dead === 0 && a.live.delivered === 4;
  });
  await page.waitForFunction(() => document.querySelector('[data-testid="handler-audit-dead"]').dataset.value === "0", null, { timeout: 10000 });
  check(true, "the page refreshes on its own and shows no dead deliveries left");
  check(await page.isDisabled('[data-testid="handler-audit-retry-dead"]'), "the handler's retry-dead button is disabled with nothing dead");

  // ---- pause and resume a handler ----
  await page.click('[data-testid="handler-billing-pause"]');
  await page.waitForSelector('[data-testid="handler-billing-control"][data-paused="true"] .badge.paused');
  check(true, "Pause shows billing paused with a badge");
  const pausedList = await api("/handlers");
  equal(pausedList.handlers.find((x) => x.name === "billing").paused, true, "the API lists billing as paused");
  const { stdout: cliList } = await run(BIN, ["--config", config, "handlers", "list", "--json", "--url", base], { env: { ...process.env, RUST_LOG: "error" } });
  equal(JSON.parse(cliList).handlers.find((x) => x.name === "billing").paused, true, "hookgate handlers list --json shows billing paused");
  const gotBefore = billing.got.length;
  await send("stripe", "evt_dash_paused", stripeBody("evt_dash_paused"));
  await sleep(2000);
  equal(billing.got.length, gotBefore, "nothing is sent to a paused handler");
  await page.click('[data-testid="handler-billing-resume"]');
  await page.waitForSelector('[data-testid="handler-billing-control"][data-paused="false"]', { state: "attached" });
  check(await page.$('[data-testid="handler-billing-control"] .badge.paused') === null, "Resume shows billing running again, without the badge");
  await page.waitForSelector('[data-testid="handler-billing-pause"]');
  check(true, "the button offers Pause again");
  equal((await api("/handlers")).handlers.find((x) => x.name === "billing").paused, false, "the API lists billing as running");
  await until("the delivery held while paused to reach billing", async () => billing.got.some((g) => g.key === "stripe:evt_dash_paused"));
  check(true, "resume sends what waited");

  equal(pageErrors, [], "no script errors in the page");

  // ---- screenshots ----
  await shoot(page, path.join(OUT, "dashboard.png"));
  if (UPDATE_SCREENSHOT) {
    await seedHistory(db);
    await page.click("#refresh");
    await page.waitForFunction(() => document.querySelectorAll(".toast").length === 0, null, { timeout: 10000 });
    await page.fill("#q", "evt_dash_3");
    await page.press("#q", "Enter");
    await sleep(500);
    await shoot(page, path.join(root, "docs/dashboard.png"));
    console.log("wrote docs/dashboard.png");
  }
}

// A full-page screenshot from the top (the header is sticky).
async function shoot(page, file) {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: file, fullPage: true });
}

// An hour of plausible per-minute counters before the test's own traffic, for the README
// screenshot only (never for the checks above).
async function seedHistory(db) {
  const now = Date.now();
  const minute = now - (now % 60000);
  const rows = [];
  let seed = 7;
  const rand = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
  for (let i = 59; i >= 2; i--) {
    const t = minute - i * 60000;
    const wave = 0.5 + 0.5 * Math.sin(i / 7);
    for (const [src, base, dupBase] of [["stripe", 40, 0.06], ["github", 18, 0.02], ["orders", 9, 0.01]]) {
      const accepted = Math.round(base * (0.6 + wave * 0.8 + rand() * 0.3));
      const spike = src === "stripe" && i > 18 && i < 26 ? 0.35 : 0;
      const duplicates = Math.round(accepted * (dupBase + spike + rand() * 0.03));
      const rejected = src === "stripe" && i % 11 === 0 ? 3 : (rand() < 0.15 ? 1 : 0);
      const add = (counter, value) => { if (value > 0) rows.push(`(${t}, 'source', '${src}', '${counter}', ${value})`); };
      add("requests", accepted + duplicates + rejected);
      add("accepted", accepted);
      add("duplicates", duplicates);
      add("duplicate_age.lt_10s", Math.round(duplicates * 0.55));
      add("duplicate_age.lt_1m", Math.round(duplicates * 0.25));
      add("duplicate_age.lt_1h", duplicates - Math.round(duplicates * 0.55) - Math.round(duplicates * 0.25));
      add(src === "stripe" ? "rejected.stale_timestamp" : "rejected.invalid_signature", rejected);
      if (src === "stripe" && i % 13 === 0) add("body_mismatches", 1);
    }
  }
  const sql = "INSERT INTO stats_minute (minute, scope, name, counter, value) VALUES " + rows.join(",") +
    " ON CONFLICT (minute, scope, name, counter) DO UPDATE SET value = value + excluded.value;";
  await run("sqlite3", [db, sql]);
}

const watchdog = setTimeout(() => { console.error("dashboard test: timed out after 240 s"); process.exit(1); }, 240000);
main()
  .then(async () => {
    console.log(`dashboard: ${passed} passed, 0 failed`);
  })
  .catch(async (e) => {
    console.error(e.message || e);
    if (currentPage) {
      await currentPage.screenshot({ path: path.join(OUT, "failure.png"), fullPage: true }).catch(() => {});
      console.error(`screenshot of the page at the failure: ${path.join(OUT, "failure.png")}`);
    }
    console.log(`dashboard: ${passed} passed, 1 failed`);
    process.exitCode = 1;
  })
  .finally(async () => {
    for (const f of cleanup.reverse()) { try { await f(); } catch { /* best effort */ } }
    clearTimeout(watchdog);
  });

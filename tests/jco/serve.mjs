// The component, unchanged, as an HTTP service under jco: `jco serve` transpiles it and serves
// its `wasi:http/incoming-handler` on Node (preview2-shim's HTTPServer), with the token and the
// Halo webhook secret in its environment. Then, over real HTTP on 127.0.0.1:
//   health (open); an action without the token (401); test_connection against the simulators
//   (outgoing wasi:http from inside the incoming handler); a Halo webhook with the secret (its
//   events), with a wrong secret (401, no event), with a malformed body (400, no event).
//
//   node serve.mjs --component <psa_bridge.wasm> --sim <psa-bridge-sim> [--timeout 120]
//
// Every process started here (its own process group) is killed on every way out.

import { spawn } from "node:child_process";
import { createServer } from "node:net";
import { createInterface } from "node:readline";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = join(HERE, "out-serve");
const TOKEN = "jco-serve-T0ken";
const SECRET = "jco-serve-Webhook-S3cret";

const { values: args } = parseArgs({
  options: {
    component: { type: "string" },
    sim: { type: "string" },
    timeout: { type: "string", default: "120" },
  },
});

const children = new Set();
function killAll() {
  for (const c of children) {
    if (c.exitCode === null && c.signalCode === null) {
      try {
        process.kill(-c.pid, "SIGKILL");
      } catch {
        c.kill("SIGKILL");
      }
    }
  }
}
function fail(message) {
  console.error(`jco serve: FAIL: ${message}`);
  killAll();
  process.exit(1);
}
process.on("exit", killAll);
for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) process.on(sig, () => fail(`stopped by ${sig}`));

const started = Date.now();
if (!args.component || !args.sim) fail("usage: node serve.mjs --component <wasm> --sim <psa-bridge-sim>");
const component = resolve(args.component);
const simBin = resolve(args.sim);
if (!existsSync(component)) fail(`component not found: ${component} (make component)`);
if (!existsSync(simBin)) fail(`simulator not found: ${simBin} (make host)`);
const deadline = setTimeout(() => fail(`timed out after ${args.timeout} s`), Number(args.timeout) * 1000);

const freePort = () =>
  new Promise((ok, ko) => {
    const s = createServer();
    s.once("error", ko);
    s.listen(0, "127.0.0.1", () => {
      const { port } = s.address();
      s.close(() => ok(port));
    });
  });

function start(command, argv, env) {
  const child = spawn(command, argv, { stdio: ["ignore", "pipe", "pipe"], detached: true, env });
  children.add(child);
  return child;
}

// 1. The simulators: one JSON line on stdout when ready.
const sim = start(simBin, [], process.env);
sim.stderr.resume();
const ready = await new Promise((ok, ko) => {
  createInterface({ input: sim.stdout }).once("line", (line) => {
    try {
      ok(JSON.parse(line));
    } catch {
      ko(new Error(`simulator printed no JSON line: ${line}`));
    }
  });
  sim.once("exit", (code, signal) => ko(new Error(`simulator exited (${code ?? signal}) before ready`)));
}).catch((e) => fail(e.message));

// 2. jco serve, on a free port, with the two settings in the component's environment.
const port = await freePort();
const jcoPkg = join(HERE, "node_modules", "@bytecodealliance", "jco");
if (!existsSync(join(jcoPkg, "package.json"))) fail("jco is not installed: run `npm ci` in tests/jco (make jco does)");
const jcoMain = join(jcoPkg, JSON.parse(readFileSync(join(jcoPkg, "package.json"), "utf8")).bin.jco);
rmSync(OUT, { recursive: true, force: true });
const env = { ...process.env, PSA_BRIDGE_HTTP_TOKEN: TOKEN, PSA_BRIDGE_HALO_WEBHOOK_SECRET: SECRET };
const server = start(process.execPath, [jcoMain, "serve", "--port", String(port), "--host", "127.0.0.1", "--jco-dir", OUT, component], env);
let serverLog = "";
server.stdout.on("data", (d) => (serverLog += d));
server.stderr.on("data", (d) => (serverLog += d));
server.once("exit", (code, signal) => fail(`jco serve exited (${code ?? signal}):\n${serverLog}`));
const base = `http://127.0.0.1:${port}`;

async function call(method, path, { body, auth } = {}) {
  const headers = { "content-type": "application/json" };
  if (auth) headers.authorization = auth;
  const response = await fetch(base + path, { method, headers, body, signal: AbortSignal.timeout(60_000) });
  const text = await response.text();
  let json = null;
  try {
    json = JSON.parse(text);
  } catch {
    // not JSON: shown in the failure
  }
  return { status: response.status, json, text, headers: response.headers };
}

for (let i = 0; ; i++) {
  try {
    if ((await call("GET", "/api/v1/health")).status === 200) break;
  } catch {
    // not listening yet
  }
  if (i > 600) fail(`jco serve did not answer the health check:\n${serverLog}`);
  await new Promise((r) => setTimeout(r, 100));
}
console.log(`jco serve: serving ${component} on ${base} (${Date.now() - started} ms after start)`);

let passed = 0;
const check = (name, ok, detail) => {
  if (!ok) fail(`${name}: ${detail}`);
  console.log(`jco serve: ${name} ok`);
  passed++;
};
const bearer = `Bearer ${TOKEN}`;
const basic = (password) => `Basic ${Buffer.from(`halo:${password}`).toString("base64")}`;
const noSecret = (r) => !r.text.includes(SECRET) && !r.text.includes(TOKEN);

let r = await call("GET", "/api/v1/health");
check("health (open)", r.status === 200 && r.json?.status === "ok", `${r.status} ${r.text}`);

const message = (action) =>
  JSON.stringify({ version: "v1", type: "action_start", body: { action, meta: {}, input: {}, connection: ready.connection } });
r = await call("POST", "/actions/test_connection", { body: message("test_connection") });
check(
  "an action without the token is 401",
  r.status === 401 && r.headers.get("www-authenticate") === "Bearer" && noSecret(r),
  `${r.status} ${r.text}`,
);

let t0 = Date.now();
r = await call("POST", "/actions/test_connection", { body: message("test_connection"), auth: bearer });
const services = (r.json?.body?.output?.services ?? []).map((s) => s.service);
check(
  `test_connection against the simulators (${services.join(", ")}; ${Date.now() - t0} ms)`,
  r.status === 200 && r.json?.type === "action_event" && r.json?.body?.status === "ok" && services.length >= 2,
  `${r.status} ${r.text}`,
);

const delivery = JSON.stringify([
  { event: "New Ticket Logged", webhook_id: "w-1", ticket: { id: 501, summary: "Phishing reported", status_id: 1, client_name: "Acme" } },
  { event: "Ticket Status Changed", ticket: { id: "502", summary: "Laptop", status_id: 9, last_update: "2026-05-01T10:00:00" } },
]);
r = await call("POST", "/webhooks/halo", { body: delivery, auth: basic(SECRET) });
const events = r.json?.events ?? [];
check(
  "a webhook with the secret answers its trigger events",
  r.status === 200 &&
    events.length === 2 &&
    events.every((e) => e.version === "v1" && e.type === "trigger_event" && e.body.output.event_id) &&
    events[0].body.trigger === "ticket_created" &&
    events[1].body.trigger === "ticket_status_changed" &&
    events[1].body.output.ticket.id === "502" &&
    noSecret(r),
  `${r.status} ${r.text}`,
);

r = await call("POST", "/webhooks/halo", { body: delivery, auth: basic("wrong") });
check("a webhook with a wrong secret is 401 with no event", r.status === 401 && !("events" in (r.json ?? {})) && noSecret(r), `${r.status} ${r.text}`);

r = await call("POST", "/webhooks/halo", { body: '[{"ticket": {"id": 1}}, {"ticket": {"summary": "no id"}}]', auth: `Bearer ${SECRET}` });
check("a malformed delivery is 400 with no event", r.status === 400 && !("events" in (r.json ?? {})), `${r.status} ${r.text}`);

clearTimeout(deadline);
server.removeAllListeners("exit");
killAll();
rmSync(OUT, { recursive: true, force: true });
console.log(`jco serve: PASS in ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`jco serve: ${passed} passed, 0 failed`);
process.exit(0);

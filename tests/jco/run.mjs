// Runs the psa-bridge component, unchanged, in another component host: jco transpiles it to
// JavaScript + core wasm, and @bytecodealliance/preview2-shim provides WASI (wasi:http through
// Node's http module) on Node. Then test_connection and get_accounts run against the simulators
// on 127.0.0.1.
//
//   node run.mjs --component <psa_bridge.wasm> --sim <psa-bridge-sim> [--timeout 120]
//
// The orchestrator (this file without --child) transpiles, starts the simulators, and runs the
// actions in a child process (this file with --child). The child is needed for the time limit:
// preview2-shim performs WASI I/O synchronously (the main thread blocks on a worker with
// Atomics.wait), so a timer in the process that runs the component cannot fire while a call hangs.
// The orchestrator kills the simulators and the child on every way out.

import { spawn, spawnSync } from "node:child_process";
import { createInterface } from "node:readline";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";

const HERE = dirname(fileURLToPath(import.meta.url));
const OUT = join(HERE, "out");
const MODULE = join(OUT, "psa_bridge.js");
const ACTIONS = "psa-bridge:plugin/actions@0.2.0";

const { values: args } = parseArgs({
  options: {
    component: { type: "string" },
    sim: { type: "string" },
    timeout: { type: "string", default: "120" },
    "latency-ms": { type: "string", default: "200" },
    child: { type: "boolean", default: false },
  },
});

function fail(message) {
  console.error(`jco: FAIL: ${message}`);
  process.exit(1);
}

if (args.child) {
  await child();
} else {
  await orchestrate();
}

// ---------------------------------------------------------------------------------------------
// Orchestrator

async function orchestrate() {
  const started = Date.now();
  const timeoutMs = Number(args.timeout) * 1000;
  if (!args.component || !args.sim) fail("usage: node run.mjs --component <wasm> --sim <psa-bridge-sim>");
  const component = resolve(args.component);
  const simBin = resolve(args.sim);
  if (!existsSync(component)) fail(`component not found: ${component} (make component)`);
  if (!existsSync(simBin)) fail(`simulator not found: ${simBin} (make host)`);

  const children = new Set();
  const killAll = () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  };
  process.on("exit", killAll);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"]) {
    process.on(sig, () => {
      killAll();
      process.exit(1);
    });
  }
  const deadline = setTimeout(() => {
    killAll();
    fail(`timed out after ${args.timeout} s`);
  }, timeoutMs);

  // 1. Transpile: jco writes psa_bridge.js (+ .d.ts, interfaces/, core*.wasm) into out/.
  rmSync(OUT, { recursive: true, force: true });
  const jcoPkg = join(HERE, "node_modules", "@bytecodealliance", "jco");
  if (!existsSync(join(jcoPkg, "package.json"))) fail("jco is not installed: run `npm ci` in tests/jco (make jco does)");
  const jcoMain = join(jcoPkg, JSON.parse(readFileSync(join(jcoPkg, "package.json"), "utf8")).bin.jco);
  const t = spawnSync(process.execPath, [jcoMain, "transpile", component, "-o", OUT], {
    encoding: "utf8",
    timeout: timeoutMs,
  });
  if (t.status !== 0 || !existsSync(MODULE)) {
    fail(`jco transpile failed (status ${t.status}):\n${t.stdout}${t.stderr}${t.error ?? ""}`);
  }
  console.log(`jco: transpiled ${component} -> ${OUT} (${Date.now() - started} ms)`);

  // 2. Simulators: one JSON line on stdout when ready.
  const sim = spawn(simBin, ["--latency-ms", String(Number(args["latency-ms"]))], { stdio: ["ignore", "pipe", "inherit"] });
  children.add(sim);
  const ready = await new Promise((resolveReady, rejectReady) => {
    const lines = createInterface({ input: sim.stdout });
    lines.once("line", (line) => {
      try {
        resolveReady(JSON.parse(line));
      } catch (e) {
        rejectReady(new Error(`simulator printed no JSON line: ${line}`));
      }
    });
    sim.once("error", rejectReady);
    sim.once("exit", (code, signal) => rejectReady(new Error(`simulator exited (${code ?? signal}) before ready`)));
  }).catch((e) => fail(e.message));
  console.log(`jco: simulators ready: armor ${ready.armor}, connectwise ${ready.connectwise}`);

  // 3. The actions, in a child process that the deadline can kill.
  // The component's structured progress lines (stderr, "PROGRESS {...}") are counted, not echoed.
  const run = spawn(process.execPath, [fileURLToPath(import.meta.url), "--child", "--latency-ms", args["latency-ms"]], {
    stdio: ["pipe", "inherit", "pipe"],
  });
  children.add(run);
  run.stdin.end(JSON.stringify(ready.connection));
  let progress = 0;
  const errLines = createInterface({ input: run.stderr });
  errLines.on("line", (line) => (line.startsWith("PROGRESS ") ? progress++ : console.error(`  component: ${line}`)));
  const code = await new Promise((r) => run.once("close", (c, s) => r(c ?? (s ? 1 : 0))));
  console.log(`jco: ${progress} progress lines from the component on stderr`);
  clearTimeout(deadline);
  killAll();
  if (code !== 0) fail(`the component under jco failed (exit ${code})`);
  console.log(`jco: PASS in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  console.log("jco: 2 passed, 0 failed");
}

// ---------------------------------------------------------------------------------------------
// Child: imports the transpiled component and calls its actions.

async function child() {
  const connectionJson = JSON.parse(await readStdin());
  const mod = await import(pathToFileURL(MODULE).href);
  const actions = mod[ACTIONS] ?? mod.actions;
  if (!actions) fail(`the transpiled module exports no ${ACTIONS} (exports: ${Object.keys(mod).join(", ")})`);
  for (const f of ["testConnection", "getAccounts"]) {
    if (typeof actions[f] !== "function") fail(`${ACTIONS} has no function ${f}`);
  }
  const connection = toJcoConnection(connectionJson);
  let passed = 0;

  // test_connection
  let t0 = Date.now();
  const tc = call("test_connection", () => actions.testConnection(connection));
  if (tc.success !== true) fail(`test_connection returned success=${tc.success}: ${show(tc)}`);
  const services = (tc.services ?? []).map((s) => s.service);
  if (services.length < 2) fail(`test_connection checked ${services.length} service(s), expected armor and connectwise: ${show(tc)}`);
  console.log(`jco: test_connection ok in ${Date.now() - t0} ms: ${tc.services.map((s) => `${s.service}: ${s.detail}`).join("; ")}`);
  passed++;

  // get_accounts (with addresses: one request per account, run concurrently by the component)
  t0 = Date.now();
  const ga = call("get_accounts", () => actions.getAccounts(connection, { includeAddresses: true }));
  const accounts = ga.accounts ?? [];
  if (accounts.length < 2) fail(`get_accounts returned ${accounts.length} account(s), expected the simulator's tree (> 1)`);
  if (ga.count !== accounts.length) fail(`get_accounts count ${ga.count} != ${accounts.length} accounts`);
  const bad = accounts.filter((a) => a.id === undefined || a.id === null || typeof a.name !== "string" || a.name === "");
  if (bad.length) fail(`${bad.length} account(s) without id or name, e.g. ${show(bad[0])}`);
  const ids = new Set(accounts.map((a) => String(a.id)));
  if (ids.size !== accounts.length) fail("get_accounts returned duplicate ids");
  const withAddress = accounts.filter((a) => a.address !== undefined).length;
  const elapsed = Date.now() - t0;
  console.log(
    `jco: get_accounts ok in ${elapsed} ms: ${accounts.length} accounts (${withAddress} with address), ` +
      `e.g. ${accounts[0].id} ${JSON.stringify(accounts[0].name)}`,
  );
  // Concurrency through wasi:io/poll under preview2-shim: every simulator response takes latency-ms,
  // so one request at a time could not finish the list + one address request per account faster
  // than (accounts + 1) * latency. Well under that means requests really were in flight together.
  const latency = Number(args["latency-ms"]);
  if (latency > 0) {
    const sequential = (accounts.length + 1) * latency;
    if (elapsed >= 0.8 * sequential) {
      fail(`get_accounts took ${elapsed} ms, no faster than one request at a time (${sequential} ms): ` +
        `concurrent outgoing requests (wasi:io/poll over several futures) did not overlap under preview2-shim`);
    }
    console.log(`jco: requests overlapped: ${elapsed} ms vs >= ${sequential} ms one at a time at ${latency} ms latency`);
  }
  passed++;
  process.exit(passed === 2 ? 0 : 1);
}

// result<T, plugin-error>: jco returns T, or throws a ComponentError whose payload is the error.
function call(name, f) {
  try {
    return f();
  } catch (e) {
    if (e && e.payload && typeof e.payload === "object" && "cause" in e.payload) {
      fail(`${name} returned an error: ${e.payload.cause} — ${e.payload.assistance} (${e.payload.data})`);
    }
    fail(`${name} trapped or threw: ${e?.stack ?? e}`);
  }
}

// The simulators print the plugin's connection as JSON (snake_case keys, null for none). jco wants
// the WIT record: camelCase fields, undefined for option none, BigInt for u64.
function toJcoConnection(c) {
  const opt = (v, f) => (v === null || v === undefined ? undefined : f(v));
  const str = (v) => String(v);
  const u32 = (v) => Number(v);
  return {
    armor: opt(c.armor, (a) => ({
      baseUrl: opt(a.base_url, str),
      accountId: BigInt(a.account_id),
      login: opt(a.login, (l) => ({ username: l.username, password: l.password })),
      apiKey: opt(a.api_key, (k) => ({ keyId: k.key_id, secretKey: k.secret_key })),
    })),
    connectwise: opt(c.connectwise, (w) => ({
      site: w.site,
      codebase: opt(w.codebase, str),
      companyId: String(w.company_id),
      apiKey: { publicKey: w.api_key.public_key, privateKey: w.api_key.private_key },
      clientId: w.client_id,
    })),
    tuning: opt(c.tuning, (t) => ({
      maxConcurrency: opt(t.max_concurrency, u32),
      requestTimeoutSeconds: opt(t.request_timeout_seconds, u32),
      maxAttempts: opt(t.max_attempts, u32),
      timeBudgetSeconds: opt(t.time_budget_seconds, u32),
    })),
  };
}

function show(v) {
  return JSON.stringify(v, (_, x) => (typeof x === "bigint" ? x.toString() : x));
}

async function readStdin() {
  let s = "";
  for await (const chunk of process.stdin) s += chunk;
  return s;
}

// Prints a `wasmtime run --invoke` call (WAVE syntax) for one action from the plugin's JSON.
//
//   psa-bridge-sim > sim.json &      # or any connection JSON (snake_case, as in the README)
//   node tests/jco/wave.mjs test-connection < sim.json
//   node tests/jco/wave.mjs get-accounts '{"include_addresses": false}' < sim.json
//
// stdin: the simulators' ready line ({"connection": {...}, ...}) or a bare connection object.
// JSON -> WAVE: objects become records with kebab-case labels, null fields are left out (option
// none), other values are written as themselves (WAVE accepts a flat `some`). Enum-typed inputs
// would need to be written as bare labels; test-connection and get-accounts have none.

function wave(v) {
  if (v === null || v === undefined) return "none";
  if (Array.isArray(v)) return `[${v.map(wave).join(", ")}]`;
  if (typeof v === "object") {
    const fields = Object.entries(v)
      .filter(([, x]) => x !== null && x !== undefined)
      .map(([k, x]) => `${k.replaceAll("_", "-")}: ${wave(x)}`);
    return fields.length ? `{${fields.join(", ")}}` : "{:}";
  }
  if (typeof v === "string") return waveString(v);
  return String(v);
}

function waveString(s) {
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0);
    if (ch === '"' || ch === "\\") out += `\\${ch}`;
    else if (ch === "\n") out += "\\n";
    else if (ch === "\r") out += "\\r";
    else if (ch === "\t") out += "\\t";
    else if (c < 0x20 || c === 0x7f) out += `\\u{${c.toString(16)}}`;
    else out += ch;
  }
  return `${out}"`;
}

const [func, inputJson] = process.argv.slice(2);
if (!func) {
  console.error("usage: node wave.mjs <action-name> [input-json] < connection-or-sim.json");
  process.exit(2);
}
let stdin = "";
for await (const chunk of process.stdin) stdin += chunk;
const parsed = JSON.parse(stdin.trim().split("\n")[0]);
const connection = parsed.connection ?? parsed;
const args = [wave(connection)];
if (inputJson !== undefined) args.push(wave(JSON.parse(inputJson)));
else if (func.replaceAll("_", "-") !== "test-connection") args.push("{:}");
console.log(`${func.replaceAll("_", "-")}(${args.join(", ")})`);

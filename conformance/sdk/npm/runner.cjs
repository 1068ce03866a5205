// The SDK guard's Node.js runner: makes the npm SDK's clients and calls their methods, one JSON line at a time.
//
//   node runner.cjs <folder of the installed package>
//
// Each line read on stdin is one request; each answer is one line on stdout, in order:
//   {"op": "make", "name": "client", "url": "http://127.0.0.1:PORT"}   -> {"returned": null}
//   {"op": "call", "on": "client", "method": "add", "args": [...]}   -> {"returned": <value>} | {"raised": {...}}
//   {"op": "surface"}                                                -> {"returned": {"MemoryClient.add": ["messages", ...]}}
//   {"op": "fetch", "url": "...", "method": "POST", "body": {...}, "scheme": "Bearer"}
//                                                    -> {"returned": {"status": 200, "body": <JSON>}}
//     (what a TypeScript user writes by hand where the SDK offers no call: Node's fetch, the API's auth scheme)
// The API key comes from MEM0_API_KEY or KLAVIS_API_KEY and is never written out. Nothing else is printed on
// stdout: what the SDK logs goes to stderr.
"use strict";

const path = require("node:path");
const readline = require("node:readline");
const { createRequire } = require("node:module");

const folder = process.argv[2];
const manifest = require(path.join(folder, "package.json"));
const sdk = createRequire(path.join(folder, "package.json"))(folder);
console.log = console.info = console.warn = console.error; // the SDK's own logging never mixes with answers

// How each SDK's client is made, and which of its objects carry the calls the guard may make.
const CLIENTS = {
  mem0ai: {
    key: () => process.env.MEM0_API_KEY,
    make: (url) => new (sdk.MemoryClient || sdk.default)({ apiKey: process.env.MEM0_API_KEY, host: url }),
    ready: async (client) => { if (client.initialized) await client.initialized; }, // its constructor pings
    holders: { MemoryClient: (client) => client },
    classes: () => ({ MemoryClient: sdk.MemoryClient || sdk.default }),
  },
  klavis: {
    key: () => process.env.KLAVIS_API_KEY,
    make: (url) => new sdk.KlavisClient({ apiKey: process.env.KLAVIS_API_KEY, baseUrl: url }),
    ready: async () => {},
    holders: { "KlavisClient.sandbox": (client) => client.sandbox },
    classes: () => {
      const client = new sdk.KlavisClient({ apiKey: "surface", baseUrl: "http://127.0.0.1:9" });
      return { KlavisClient: sdk.KlavisClient, "KlavisClient.sandbox": client.sandbox.constructor };
    },
  },
};
const kind = CLIENTS[manifest.name];
if (!kind) {
  process.stderr.write(`runner.cjs: no client is known for the npm package ${manifest.name}\n`);
  process.exit(2);
}

const objects = {};

function parameters(fn) {
  // The parameters as the compiled code names them: "messages, options = {}" -> ["messages", "options"].
  const text = fn.toString();
  const open = text.indexOf("(");
  let depth = 0, end = open;
  for (; end < text.length; end++) {
    if ("([{".includes(text[end])) depth++;
    if (")]}".includes(text[end]) && --depth === 0) break;
  }
  const inside = text.slice(open + 1, end);
  const names = [];
  depth = 0;
  let current = "";
  for (const char of inside) {
    if ("([{".includes(char)) depth++;
    if (")]}".includes(char)) depth--;
    if (char === "," && depth === 0) { names.push(current); current = ""; } else current += char;
  }
  if (current.trim()) names.push(current);
  return names.map((name) => name.split("=")[0].trim()).map((name) => (name.startsWith("{") ? "{...}" : name));
}

function surface() {
  const found = {};
  for (const [name, cls] of Object.entries(kind.classes())) {
    if (!name.includes(".")) found[name] = parameters(cls.prototype.constructor);
    if (!(name in kind.holders)) continue;
    for (const method of Object.getOwnPropertyNames(cls.prototype).sort()) {
      if (method === "constructor" || method.startsWith("_")) continue;
      if (typeof cls.prototype[method] === "function") found[`${name}.${method}`] = parameters(cls.prototype[method]);
    }
  }
  return found;
}

function where(error) {
  // The innermost frame inside the SDK's package: "mem0ai/dist/index.js:361".
  const marker = `node_modules${path.sep}${manifest.name}${path.sep}`;
  for (const line of String(error && error.stack || "").split("\n")) {
    const at = line.indexOf(marker);
    if (at >= 0) return line.slice(at + "node_modules/".length).replace(/\)$/, "").replace(/:\d+$/, "");
  }
  return "";
}

function raised(error) {
  const status = error && (error.statusCode ?? error.status ?? (/^HTTP_(\d+)$/.exec(error.errorCode || "") || [])[1]);
  return { type: (error && error.constructor && error.constructor.name) || typeof error,
           message: String(error && error.message || error).slice(0, 2000),
           status: status === undefined ? null : Number(status), at: where(error) };
}

async function handle(request) {
  if (request.op === "make") {
    const client = kind.make(request.url);
    await kind.ready(client);
    for (const [name, holder] of Object.entries(kind.holders)) objects[`${request.name}:${name}`] = holder(client);
    return null;
  }
  if (request.op === "call") {
    const holder = objects[`${request.on}:${request.holder}`];
    if (!holder) throw new Error(`no ${request.holder} was made as ${request.on}`);
    if (typeof holder[request.method] !== "function") {
      throw new TypeError(`${request.holder}.${request.method} is not a function in ${manifest.name} ${manifest.version}`);
    }
    const answer = await holder[request.method](...(request.args || []));
    return answer === undefined ? null : answer;
  }
  if (request.op === "fetch") {
    const response = await fetch(request.url, {
      method: request.method,
      headers: { Authorization: `${request.scheme} ${kind.key()}`, "Content-Type": "application/json" },
      body: request.body == null ? undefined : JSON.stringify(request.body),
    });
    const text = await response.text();
    let body = text;
    try { body = JSON.parse(text); } catch (error) { /* not JSON: kept as text */ }
    return { status: response.status, body };
  }
  if (request.op === "surface") return { version: manifest.version, calls: surface() };
  throw new Error(`unknown request ${JSON.stringify(request.op)}`);
}

const lines = readline.createInterface({ input: process.stdin });
let queue = Promise.resolve();
lines.on("line", (line) => {
  queue = queue.then(async () => {
    let answer;
    try {
      answer = { returned: await handle(JSON.parse(line)) };
    } catch (error) {
      answer = { raised: raised(error) };
    }
    process.stdout.write(JSON.stringify(answer) + "\n");
  });
});

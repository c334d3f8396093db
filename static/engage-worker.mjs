/*
 * engage-worker.mjs: engage-web's Python engine, run by Pyodide in a dedicated module Worker.
 *
 * engage.js (the page facade) creates this worker; nothing else should. Booting Pyodide costs
 * seconds of CPU; here it costs the host page's main thread nothing.
 *
 * Protocol: every message, both ways, is JSON text.
 *   page -> worker  {type: "init", config}             build the engine (again, on re-init);
 *                                                      config.stored: what the page keeps for it
 *                   {type: "check", id, params, reuseKey}
 *                   {type: "report", id, engagementAttributes, pageId, session}
 *                   {type: "cancel"}  {type: "watch", params, options}  {type: "unwatch"}
 *   worker -> page  {type: "ready", bootMs, bootKind, callBoundMs}
 *                   {type: "failed", error: {code, message, field}}
 *                   {type: "fatal", error: {message}}   (Pyodide died: the page replaces us)
 *                   {type: "outcome", id, outcome}  {type: "reported", id, result}
 *                   {type: "broken", id, error: {message}}   (Python raised; the page makes
 *                   the call's Error outcome, as it does for every failure of the runtime)
 *                   {type: "retry" | "attempt", event}  {type: "engagement", outcome}
 *                   {type: "store", area, name, value}  {type: "reusable", ...}   (posted by
 *                   Python itself, see worker.py)
 *
 * Boot starts with the first message; every message waits for it, in arrival order, then goes
 * to one Python coroutine, engage_web.browser.worker.handle(text) -> text, whose answer is
 * posted back as is. No Python object ever leaves this worker.
 *
 * What the build knows and this file does not (where Pyodide and the engine are, which memory
 * snapshot to boot from, the integrity hash of each file) comes from engage-config.mjs, which
 * tools/dist.py writes next to this file; the shipped source of this file is never edited by
 * the build.
 *
 * Integrity: every file this worker loads after itself (the engine bundle, the snapshot,
 * Pyodide's two modules, its wasm, stdlib and lock file) is fetched with the Subresource
 * Integrity hash the build recorded for it, so the browser refuses bytes that differ. A refused
 * engine bundle or runtime file stops the boot with a console error naming the file (every call
 * then resolves with a "runtime" Error outcome); a refused snapshot costs a normal boot. The two
 * modules are fetched with their hash and only then imported (import() takes no integrity).
 * This file and engage-config.mjs themselves cannot be checked from here: see SECURITY.md.
 */
import BUILD from "./engage-config.mjs";

const HERE = import.meta.url;
const PYODIDE_URL = new URL(BUILD.pyodideBase, HERE).href;
const ENGINE_ZIP_URL = new URL(BUILD.engineZip, HERE).href;
const STDLIB_URL = BUILD.stdlib ? new URL(BUILD.stdlib, HERE).href : null;
const ENGINE_DIR = "/engage";

/** Every loadPyodide option but the snapshot, in one place. */
function pyodideOptions() {
  return {
    indexURL: PYODIDE_URL,
    // The trimmed standard library (tools/stdlib.py): only what the engine imports.
    ...(STDLIB_URL ? { stdLibURL: STDLIB_URL } : {}),
    stdout: (text) => console.log("[engage-web/python]", text),
    stderr: (text) => console.warn("[engage-web/python]", text),
  };
}

let workerModule = null;   // engage_web.browser.worker; lives as long as the worker
let handle = null;         // its coroutine function handle(text) -> text
let booting = null;    // Promise of the boot, started by the first message

// Subresource Integrity of the files this worker loads, from the build:
// {path relative to this file: "sha384-..."}; absent for a file the build could not vouch for
// (a CDN's Pyodide), which is then fetched as is.
const INTEGRITY = new Map(Object.entries(BUILD.integrity || {}).map(
  ([path, hash]) => [new URL(path, HERE).href, hash]));

/** A file whose bytes do not match the integrity hash the build recorded: never used. */
class IntegrityError extends Error {
  constructor(url, integrity) {
    super(`${url} does not match the integrity hash the build recorded (${integrity}): ` +
      "refused. The file was changed after the build (or by whoever serves it).");
    this.name = "IntegrityError";
  }
}

/**
 * fetch(input, init) with the integrity hash the build recorded for `url`, if any. The browser
 * refuses a mismatch with a bare network error, so a refusal is told from an outage by a HEAD
 * request (no second download): a file that is there means its bytes are wrong (IntegrityError);
 * a 404 says so; no answer leaves the first error.
 */
async function fetchChecked(url, input = url, init = undefined, fetcher = fetch) {
  const integrity = (init && init.integrity) || INTEGRITY.get(url);
  if (!integrity) return fetcher(input, init);
  try {
    return await fetcher(input, { ...init, integrity });
  } catch (error) {
    let head = null;
    try {
      head = await fetcher(url, { method: "HEAD", cache: "no-store" });
    } catch { /* unreachable: the first error stands */ }
    if (head && head.ok) throw new IntegrityError(url, integrity);
    if (head) throw new Error(`${url} answered HTTP ${head.status}`);
    throw error;
  }
}

// Files Pyodide fetched itself (through fetchingRuntimeOnce) and the browser refused. Pyodide
// reports some of these failures in its own words, or not at all (a refused stdlib ends as
// "No module named 'encodings'"), so the boot names the first refusal as its reason.
const refusals = [];

/** import(url), once the module's bytes match its recorded hash (import() takes none). */
async function importChecked(url) {
  if (INTEGRITY.has(url)) await (await fetchChecked(url)).arrayBuffer();
  return import(url);
}

async function fetchBytes(url) {
  const response = await fetchChecked(url);
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  return response.arrayBuffer();
}

// The memory snapshot of a booted engine, made by the build for the pinned Pyodide
// (tools/snapshot.py): {file (relative to this file), buildId, bytes}, or null for a normal boot.
const SNAPSHOT = BUILD.snapshot;
const SNAPSHOT_MAGIC = 1886286592;   // Pyodide's snapshot header: magic, offsets, 8-word build id
let bootKind = "normal";             // "snapshot" once a boot from the snapshot succeeded

const SPARSE_MAGIC = 0x31535745;     // "EWS1": the run table after Pyodide's header

/**
 * Where a sparse snapshot's pieces are (tools/sparse_snapshot.py): Pyodide's header and JSON
 * state end at `start`; then a table of runs, the only pages of the `memory` bytes that are not
 * zero, each with where its bytes are in the file. Throws for a table that does not fit the
 * bytes (a damaged or hostile file), before anything is written anywhere.
 */
function sparseLayout(bytes) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const start = view.getUint32(4, true);
  if (start < 48 || start % 16 || start + 16 > bytes.byteLength ||
      view.getUint32(start, true) !== SPARSE_MAGIC) {
    throw new Error("not a sparse snapshot (no run table after the header)");
  }
  const memory = view.getUint32(start + 4, true);
  const count = view.getUint32(start + 8, true);
  let at = start + 16 + 8 * count;
  if (at > bytes.byteLength) throw new Error(`${count} runs do not fit in the snapshot`);
  const runs = [];
  let end = 0;
  for (let i = 0; i < count; i++) {
    const offset = view.getUint32(start + 16 + 8 * i, true);
    const length = view.getUint32(start + 20 + 8 * i, true);
    if (offset < end || offset + length > memory || at + length > bytes.byteLength) {
      throw new Error(`snapshot run ${i} (${offset}, ${length}) does not fit`);
    }
    runs.push({ offset, length, at });
    at += length;
    end = offset + length;
  }
  if (at !== bytes.byteLength) throw new Error(`${bytes.byteLength - at} bytes after the runs`);
  return { start, memory, runs };
}

/** Write a sparse snapshot's memory into `heap`: its runs, and zeros between them. */
function writeMemory(heap, bytes, { memory, runs }) {
  if (memory > heap.length) {
    throw new Error(`the snapshot's memory (${memory} bytes) exceeds this runtime's`);
  }
  let cursor = 0;
  for (const { offset, length, at } of runs) {
    heap.fill(0, cursor, offset);
    heap.set(bytes.subarray(at, at + length), offset);
    cursor = offset + length;
  }
  heap.fill(0, cursor, memory);
}

/** The Pyodide build id in a snapshot's header (throws if the bytes are no snapshot). */
function snapshotBuildId(bytes) {
  if (bytes.byteLength < 48) throw new Error(`${bytes.byteLength} bytes is no snapshot`);
  const header = new DataView(bytes.buffer, bytes.byteOffset, 48);
  if (header.getUint32(0, true) !== SNAPSHOT_MAGIC) throw new Error("not a Pyodide snapshot");
  let id = "";
  for (let word = 4; word < 12; word++) {
    id += header.getUint32(word * 4, true).toString(16).padStart(8, "0");
  }
  return id;
}

/**
 * The snapshot's response: the file as the server sends it, or the build's gzip copy when the
 * server sends it raw. The snapshot is about 14 MB raw and 3.8 MB brotli-encoded: a server
 * that compresses (Content-Encoding, or a Content-Length other than the raw size: a CDN
 * compressing on the fly) is read through, and one that would send the raw bytes (a plain
 * static host) is cut off at its headers, and the gzip copy (5.6 MB) is fetched and unpacked
 * here instead. Reading headers first means fetching without `integrity` (which waits for the
 * whole body), so the bytes are then checked here (`verify`); where crypto.subtle is missing
 * (not a secure context) the file is fetched with its integrity as is.
 */
async function snapshotResponse(snapshot) {
  const url = new URL(snapshot.file, HERE).href;
  const integrity = INTEGRITY.get(url);
  const gzip = snapshot.gzip && typeof DecompressionStream === "function" ?
    new URL(snapshot.gzip, HERE).href : null;
  const canVerify = Boolean(globalThis.crypto && crypto.subtle);
  if (!gzip || (integrity && !canVerify)) return { response: await fetchChecked(url) };
  const controller = new AbortController();
  const response = await fetch(url, { signal: controller.signal });
  const sentRaw = response.ok && !response.headers.get("Content-Encoding") &&
    Number(response.headers.get("Content-Length")) === snapshot.bytes;
  if (!sentRaw) return { response, verify: integrity };
  controller.abort();
  return { response: await fetchChecked(gzip), gunzip: true };
}

/** Whether `bytes` match an SRI value ("sha384-<base64>"). */
async function matches(bytes, integrity) {
  const [algorithm, expected] = integrity.split("-", 2);
  const name = { sha256: "SHA-256", sha384: "SHA-384", sha512: "SHA-512" }[algorithm];
  if (!name) return false;
  const digest = new Uint8Array(await crypto.subtle.digest(name, bytes));
  let binary = "";
  for (let i = 0; i < digest.length; i++) binary += String.fromCharCode(digest[i]);
  return btoa(binary) === expected;
}

/** The snapshot's bytes, checked against the build's hash, the pinned build id and its own run
 * table; throws if unusable (which costs a normal boot, never a failed one). */
async function snapshotBytes(snapshot) {
  const url = new URL(snapshot.file, HERE).href;
  const { response, verify, gunzip } = await snapshotResponse(snapshot).catch((error) => {
    throw error instanceof IntegrityError ? new Error(error.message) : error;
  });
  if (!response.ok) throw new Error(`${response.url || url} answered HTTP ${response.status}`);
  let body = response.body;
  if (gunzip) body = body.pipeThrough(new DecompressionStream("gzip"));
  const bytes = new Uint8Array(await new Response(body).arrayBuffer());
  if (verify && !(await matches(bytes, verify))) {
    throw new Error(new IntegrityError(url, verify).message);
  }
  const found = snapshotBuildId(bytes);
  if (found !== snapshot.buildId) {
    throw new Error(`snapshot build id ${found}, this Pyodide is ${snapshot.buildId}`);
  }
  sparseLayout(bytes);
  return bytes;
}

/**
 * Pyodide's module factory, wrapped to restore the build's snapshot: its memory from the sparse
 * form, and in any engine.
 *
 * Sparse: the file holds only the memory pages that are not zero (tools/sparse_snapshot.py), so
 * Pyodide's restore is handed its header and JSON state alone, and the runs are written here.
 *
 * Any engine: Pyodide's start-up (a preRun of pyodide.asm.mjs) adds CPython's call trampoline to
 * the wasm function table and stores its table index in `_PyRuntime`, which is in the wasm
 * memory, and so in the snapshot. That index is not the same in every engine: JavaScriptCore
 * (WebKit, Safari) hands out a new JS object for a wasm function each time it is exported, so
 * Emscripten's dynamic linking cannot find the functions already in the table and appends
 * about a thousand duplicates before the trampoline is added (index 15146 in WebKitGTK 2.50
 * against 14174 in Chromium and Firefox). Restored as is, a snapshot made in Chromium makes
 * WebKit's first Python call jump to a duplicate of an unrelated function: "call_indirect to a
 * signature that does not match". So the index this engine computed is kept across the
 * restore. Everything else the snapshot holds uses the table's initial slots, which every
 * engine fills alike. (Not JSPI: hiding WebAssembly.Suspending changes neither index.)
 * A Pyodide without these internals cannot restore the file: its boot fails, which costs a
 * normal boot, never the answer.
 */
function snapshotModuleFactory(createPyodideModule) {
  return async (settings) => {
    const module = await createPyodideModule(settings);
    const api = module.API;
    if (!api || typeof api.restoreSnapshot !== "function" || !module.HEAP8) {
      throw new Error("this Pyodide has no snapshot restore to hand the memory to");
    }
    const offsetAt = module.__PyEM_EMSCRIPTEN_TRAMPOLINE_OFFSET;
    const keepsTrampoline = typeof offsetAt === "number" && typeof module.__PyRuntime === "number";
    const slot = keepsTrampoline ? (module.__PyRuntime + module.HEAP32[offsetAt >>> 2]) >>> 2 : 0;
    const ownTrampoline = keepsTrampoline ? module.HEAP32[slot] : 0;   // this engine's own
    const restore = api.restoreSnapshot;
    api.restoreSnapshot = function (bytes) {
      const layout = sparseLayout(bytes);
      const restored = restore.call(this, bytes.subarray(0, layout.start));
      writeMemory(module.HEAP8, bytes, layout);
      if (keepsTrampoline) module.HEAP32[slot] = ownTrampoline;
      return restored;
    };
    return module;
  };
}

/**
 * Run `boot` with the worker's fetch remembering the runtime's files (Pyodide's lock file,
 * wasm and stdlib), so that a normal boot after a failed snapshot restore reuses what the
 * failed attempt downloaded instead of downloading it again. Forgotten when `boot` ends.
 */
async function fetchingRuntimeOnce(boot) {
  const fetchOriginal = self.fetch;
  const kept = new Map();
  self.fetch = function (input, init) {
    const url = typeof input === "string" ? input : input instanceof URL ? input.href : input.url;
    const method = (init && init.method) || (input instanceof Request ? input.method : "GET");
    const runtime = url.startsWith(PYODIDE_URL) || (BUILD.stdlib && url === STDLIB_URL);
    if (!runtime || method.toUpperCase() !== "GET") {
      return fetchOriginal.call(self, input, init);
    }
    if (!kept.has(url)) {
      const response = fetchChecked(url, input, init, (i, n) => fetchOriginal.call(self, i, n));
      response.catch((error) => { if (error instanceof IntegrityError) refusals.push(error); });
      kept.set(url, response);
      response.then((r) => { if (!r.ok) kept.delete(url); }, () => kept.delete(url));
    }
    return kept.get(url).then((response) => response.clone());
  };
  try {
    return await boot();
  } finally {
    self.fetch = fetchOriginal;
    kept.clear();
  }
}

/**
 * Boot from the snapshot when there is one; on any failure say why and boot normally.
 * `createPyodideModule` is pyodide.asm.mjs's factory, imported here once its bytes were
 * checked, so that Pyodide never imports that module itself.
 */
async function startPyodide(loadPyodide, createPyodideModule, snapshot) {
  const factory = typeof createPyodideModule === "function" ? { createPyodideModule } : {};
  if (snapshot && factory.createPyodideModule) {
    try {
      const pyodide = await loadPyodide({
        ...pyodideOptions(),
        _loadSnapshot: snapshot,
        createPyodideModule: snapshotModuleFactory(createPyodideModule),
      });
      pyodide.runPython("import random; random.seed()");   // every visitor restores one state
      bootKind = "snapshot";
      return pyodide;
    } catch (error) {
      // A refused runtime file is no snapshot problem: a normal boot needs the same file.
      if (error instanceof IntegrityError || refusals.length) throw refusals[0] || error;
      console.warn(`[engage-web] the memory snapshot could not be used (${error}); ` +
        "booting without it");
    }
  }
  bootKind = "normal";
  return loadPyodide({ ...pyodideOptions(), ...factory });
}

/**
 * Pyodide reports a WebAssembly instantiation that fails (pyodide.asm.wasm answering 404 or
 * garbage, a Content-Security-Policy without 'wasm-unsafe-eval' on this script) only with
 * console.warn, then waits for ever. Watch the instantiation ourselves during the boot:
 * `failed` rejects at once with what went wrong. `restore()` puts the original back.
 */
function watchWasm() {
  const real = WebAssembly.instantiateStreaming;
  let fail = () => {};
  const failed = new Promise((_, reject) => { fail = reject; });
  failed.catch(() => {});   // raced below; never an unhandled rejection on its own
  if (typeof real === "function") {
    WebAssembly.instantiateStreaming = function (source, imports) {
      const result = real.call(WebAssembly, source, imports);
      result.catch((error) => {
        const csp = /Refused to compile|unsafe-eval|wasm-eval/i.test(String(error));
        fail(new Error(`pyodide.asm.wasm could not be instantiated (${error})` + (csp
          ? "; the Content-Security-Policy of engage-worker.mjs must allow 'wasm-unsafe-eval'"
          : "")));
      });
      return result;
    };
  }
  const restore = () => {
    if (typeof real === "function") WebAssembly.instantiateStreaming = real;
  };
  return { failed, restore };
}

/** A fatal Pyodide error (a stack overflow, out of memory) ends this runtime: tell the page,
 * which terminates this worker and starts a new one (engage.js). */
function watchFatal(pyodide) {
  const api = pyodide._api;   // Pyodide 314: API.fatal_error calls API.on_fatal(error)
  if (!api) return;
  api.on_fatal = (error) => {
    const message = String(error).slice(0, 500);
    self.postMessage(JSON.stringify({ type: "fatal", error: { message } }));
  };
}

async function boot() {
  const started = performance.now();
  const wasm = watchWasm();
  const engine = fetchBytes(ENGINE_ZIP_URL);   // downloads while Pyodide starts
  engine.catch(() => {});                      // awaited below; avoid an early unhandled report
  const snapshot = SNAPSHOT ? snapshotBytes(SNAPSHOT) : null;   // meanwhile too
  if (snapshot) snapshot.catch(() => {});      // startPyodide reports a failure
  const asm = importChecked(new URL("pyodide.asm.mjs", PYODIDE_URL).href);   // meanwhile too
  asm.catch(() => {});
  const { loadPyodide } = await importChecked(new URL("pyodide.mjs", PYODIDE_URL).href);
  const createPyodideModule = (await asm).default;
  const runtime = Promise.race([
    fetchingRuntimeOnce(() => startPyodide(loadPyodide, createPyodideModule, snapshot)),
    wasm.failed,   // a wasm that cannot be instantiated fails the boot at once
  ]).catch((error) => { throw refusals[0] || error; });
  // A refused or missing engine bundle fails the boot at once, not after Pyodide's start.
  let engineBytes;
  let pyodide;
  try {
    [engineBytes, pyodide] = await Promise.all([engine, runtime]);
  } finally {
    wasm.restore();
  }
  watchFatal(pyodide);
  pyodide.unpackArchive(engineBytes, "zip", { extractDir: ENGINE_DIR });
  pyodide.runPython(`import sys; sys.path.insert(0, ${JSON.stringify(ENGINE_DIR)})`);
  // The module proxy is kept (never destroyed): `handle` is borrowed from it.
  workerModule = pyodide.pyimport("engage_web.browser.worker");
  handle = workerModule.handle;
  if (BUILD.benchHooks) {   // only in the benchmark's copies (tools/bench.py)
    self.__engageBench = { wasmBytes: () => pyodide._module.HEAP8.buffer.byteLength };
  }
  return Math.round(performance.now() - started);
}

function failed(code, message) {
  return JSON.stringify({ type: "failed", error: { code, message, field: null } });
}

/** Hand one message to Python and post its answer; never rejects. */
async function serve(text, message, bootMs) {
  try {
    let answer = await handle(text);
    if (message.type === "init" && answer) {
      const reply = JSON.parse(answer);   // "ready" carries the boot time for the page
      if (reply.type === "ready") Object.assign(reply, { bootMs, bootKind });
      answer = JSON.stringify(reply);
    }
    if (answer) self.postMessage(answer);
  } catch (error) {
    // A bug in worker.py: still answer, so the page's call does not wait for ever.
    console.error("[engage-web] worker.handle failed:", error);
    if (message.id === undefined) return;
    const detail = String(error).slice(0, 500);
    self.postMessage(JSON.stringify({ type: "broken", id: message.id, error: { message: detail } }));
  }
}

// Messages start in arrival order once Python is up. An "init" is finished (and "ready"
// posted) before any later message starts; checks and reports then run concurrently.
let gate = null;

self.onmessage = (event) => {
  const text = event.data;
  let message = {};
  try { message = JSON.parse(text); } catch { /* worker.py answers unreadable input */ }
  if (!booting) {
    booting = boot();
    booting.then(
      (bootMs) => console.debug(`[engage-web] Python engine up in ${bootMs} ms (${bootKind} boot)`),
      (error) => console.error("[engage-web] the Python runtime could not start:", error),
    );
    gate = booting.catch(() => null);
  }
  const turn = gate.then(() => booting.then(
    (bootMs) => serve(text, message, bootMs),
    (error) => self.postMessage(failed("runtime", `the Python runtime could not start: ${error}`)),
  ));
  if (message.type === "init") gate = turn;
};

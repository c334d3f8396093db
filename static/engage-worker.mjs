/*
 * engage-worker.mjs: engage-web's Python engine, run by Pyodide in a dedicated module Worker.
 *
 * engage.js (the page facade) creates this worker; nothing else should. Booting Pyodide costs
 * seconds of CPU; here it costs the host page's main thread nothing.
 *
 * Protocol: every message, both ways, is JSON text.
 *   page -> worker  {type: "init", config}             build the engine (again, on re-init)
 *                   {type: "check", id, params, session}
 *                   {type: "report", id, engagementAttributes, pageId, session}
 *                   {type: "cancel"}  {type: "watch", params, options, session}  {type: "unwatch"}
 *   worker -> page  {type: "ready", bootMs}  {type: "failed", error: {code, message, field}}
 *                   {type: "outcome", id, outcome}  {type: "reported", id, result}
 *                   {type: "retry", event}  {type: "engagement", outcome}   (both posted by
 *                   Python itself, see worker.py; "engagement" is a watched outcome change)
 *
 * Boot starts with the first message; every message waits for it, in arrival order, then goes
 * to one Python coroutine, engage_web.browser.worker.handle(text) -> text, whose answer is
 * posted back as is. No Python object ever leaves this worker.
 */

// Where Pyodide comes from: dist/pyodide/ next to this file. tools/dist.py build(cdn=URL)
// rewrites this one line to load Pyodide from a CDN instead.
const PYODIDE_BASE = "./pyodide/";

const HERE = import.meta.url;
const PYODIDE_URL = new URL(PYODIDE_BASE, HERE).href;
const ENGINE_ZIP_URL = new URL("./engage_web.zip", HERE).href;
const ENGINE_DIR = "/engage";

/** Every loadPyodide option, in one place (a memory snapshot will be added here). */
function pyodideOptions() {
  return {
    indexURL: PYODIDE_URL,
    stdout: (text) => console.log("[engage-web/python]", text),
    stderr: (text) => console.warn("[engage-web/python]", text),
  };
}

let workerModule = null;   // engage_web.browser.worker; lives as long as the worker
let handle = null;         // its coroutine function handle(text) -> text
let booting = null;    // Promise of the boot, started by the first message

async function fetchBytes(url) {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`${url} answered HTTP ${response.status}`);
  return response.arrayBuffer();
}

async function boot() {
  const started = performance.now();
  const engine = fetchBytes(ENGINE_ZIP_URL);   // downloads while Pyodide starts
  engine.catch(() => {});                      // awaited below; avoid an early unhandled report
  const { loadPyodide } = await import(new URL("pyodide.mjs", PYODIDE_URL).href);
  const pyodide = await loadPyodide(pyodideOptions());
  pyodide.unpackArchive(await engine, "zip", { extractDir: ENGINE_DIR });
  pyodide.runPython(`import sys; sys.path.insert(0, ${JSON.stringify(ENGINE_DIR)})`);
  // The module proxy is kept (never destroyed): `handle` is borrowed from it.
  workerModule = pyodide.pyimport("engage_web.browser.worker");
  handle = workerModule.handle;
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
      if (reply.type === "ready") reply.bootMs = bootMs;
      answer = JSON.stringify(reply);
    }
    if (answer) self.postMessage(answer);
  } catch (error) {
    // A bug in worker.py: still answer, so the page's call does not wait for ever.
    console.error("[engage-web] worker.handle failed:", error);
    if (message.id === undefined) return;
    const outcome = {
      status: "Error",
      error: { code: "runtime", message: `engage-web internal error: ${error}`, field: null },
    };
    self.postMessage(JSON.stringify({ type: "outcome", id: message.id, outcome }));
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
      (bootMs) => console.debug(`[engage-web] Python engine up in ${bootMs} ms`),
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

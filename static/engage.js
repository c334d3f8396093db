/*
 * engage.js: the one-tag embed of engage-web.
 *
 *   <script src="/dist/engage.js" data-account-id="12345678"></script>
 *   <script>
 *     ChatApi.bind("onEngagement", function (outcome) { console.log(outcome.status); });
 *     ChatApi.getEngagement({ consumerSections: ["Support"] }).then(function (outcome) { ... });
 *   </script>
 *
 * What it does: defines window.ChatApi synchronously (getEngagement, init, bind, unbind, report,
 * cancel, watch, unwatch; events onEngagement, onRetry, onAttempt, onReady) and starts a module Worker
 * (engage-worker.mjs) that runs engage-web's Python engine in Pyodide, so the host page's main
 * thread never waits for Python to boot. Everything sent to the worker and back is JSON text.
 *
 * Rules this file keeps:
 *   - Calls made before the runtime is ready are queued and answered, in order.
 *   - Exactly one outcome per getEngagement call; the returned Promise never rejects: invalid
 *     input, server trouble and a runtime that cannot start all resolve with
 *     {status: "Error", error: {code, message, field}}.
 *   - A page callback that throws (or rejects) is reported with console.error and ignored.
 *   - The worker owns the visitor session and decides what outlives it; this page is its
 *     storage port (a worker has no localStorage). The worker posts {type: "store", area, name,
 *     value} (vid and the base the Domain API named in localStorage, sid and the pageId of the
 *     last answer in sessionStorage; keys scoped by endpoint, or Domain API, and account; memory
 *     when storage is unavailable) and this page writes it; every init and every call hand the
 *     worker what is stored (see "the storage port" below).
 *   - Including the tag twice is harmless: the second copy says so (console.info) and stops.
 *   - Nothing a page reports is lost to an outage: every report() goes into a durable outbox
 *     (localStorage, one key per report, per endpoint and account, shared by the site's tabs)
 *     before it is sent, and leaves it only once the endpoint has answered for it. Reports are
 *     delivered by one tab at a time (a Web Lock; an IndexedDB ledger says which were settled),
 *     oldest first, each in the session it was made in; a failure time can cure (the engine's
 *     `error.transient`) keeps the entry and the ones behind it for a later flush: when the
 *     runtime starts, after any check answered, when the browser is back online, and after the
 *     `retryInMs` the worker's outbox policy names (backoff with jitter, decided in Python).
 *     No send starts while the page is being left.
 *   - The runtime never leaves a call hanging: a worker that does not start within
 *     bootTimeoutMs (default 45 s), fails, or stops answering is replaced, with backoff; the
 *     calls it held end with a `runtime` Error (see "the runtime" below).
 *
 *   - A visit is not a page view: an Available answer the engine says may be reused (within its
 *     validForSeconds, minus a margin) answers a later page view's first call for the same
 *     request in the same session at once, with `fromCache: true` and `ageMs` (see "answers
 *     reused" below; reuseAnswers: false turns it off, reuseMaxAgeMs caps the age).
 *
 * Options come from the tag's data-* attributes (data-account-id, data-endpoint or
 * data-domain-api, data-retry-preset, data-method-override, data-debug, data-boot-timeout-ms,
 * data-reuse-answers, data-reuse-max-age-ms) or from ChatApi.init({accountId, endpoint,
 * domainApi, retry, methodOverride, debug, bootTimeoutMs, reuseAnswers, reuseMaxAgeMs, ...}).
 * With only an
 * account id, LivePerson's Domain API (https://api.liveperson.net) names where its App Engagement
 * API lives; an endpoint skips that look-up.
 * Types: engage.d.ts. Python callbacks on PyScript pages: engage_web/browser/page.py.
 */
(function () {
  "use strict";

  var TAG = "[engage-web]";
  var VERSION = "0.1.0";
  var EVENTS = ["onEngagement", "onRetry", "onAttempt", "onReady"];
  var DEFAULT_DOMAIN_API = "https://api.liveperson.net";
  var script = document.currentScript ||
    document.querySelector('script[src*="engage.js"][data-endpoint], script[src*="engage.js"]');

  if (window.ChatApi && window.ChatApi.engageWeb) {
    console.info(TAG + " engage.js is included more than once; this copy is ignored (" +
      ((script && script.src) || "inline") + ").");
    return;
  }

  // The runtime's watchdog (see "the runtime" below). Boots measured on the project's 2-core
  // machine: about 1 s from the memory snapshot, 36 s at worst under heavy load; a first visit
  // downloads about 7 MB (up to 19 MB from a host that does not send the build's compressed
  // copies), which 45 s covers from about 4 Mbit/s up.
  var BOOT_TIMEOUT_MS = 45000;      // default of init({bootTimeoutMs}) / data-boot-timeout-ms
  var BOOT_PATIENCE_MAX = 4;        // a worker started after failures may boot up to 4x as long
  var RESTART_FIRST_MS = 1000;      // a new worker 1 s after a failure, doubling per failure in
  var RESTART_MAX_MS = 300000;      // a row, up to 5 minutes (each +-20 %)
  var HEALTHY_MS = 60000;           // a worker that was up this long before it died was healthy

  // -- state ---------------------------------------------------------------------------------

  var config = { endpoint: null, domainApi: null, accountId: null, retry: null,
    methodOverride: false, debug: false, bootTimeoutMs: BOOT_TIMEOUT_MS,
    reuseAnswers: true, reuseMaxAgeMs: null };
  var bindings = { onEngagement: [], onRetry: [], onAttempt: [], onReady: [] };
  var pending = new Map();   // call id -> {kind, resolve, madeAt, posted (handed to the worker)}
  var backlog = [];          // calls waiting for a runtime (none configured yet, or booting)
  var watching = null;       // the page's watch message: sent again to every new worker
  var sentInit = null;       // the configuration the current worker was last sent (JSON text)
  var workerUrl = new URL("engage-worker.mjs", (script && script.src) || location.href).href;
  var ready = false;         // a worker is up and configured
  var failure = null;        // the Error outcome calls get while the runtime is down or misconfigured
  var lastId = 0;
  var reuse = {
    tried: new Set(),        // requests (base keys) this page view has looked up already
    asked: new Map(),        // reuseKey sent to the worker -> its base key
  };
  var sessions = { vid: storage("localStorage"), sid: storage("sessionStorage") };
  var runtime = {
    worker: null,            // the current Worker, if any
    blobUrl: null,           // the blob it was started from (a facade from another origin)
    booted: false,           // it has answered an init (ready, or failed on the configuration)
    startedAt: 0,            // clock() when it was created (or the page woke from a freeze)
    readyAt: 0,              // clock() when it first said ready; 0 before
    failures: 0,             // runtime failures in a row (see dead())
    callBoundMs: 0,          // from ready: the longest a call in flight may go without news
    outboxRetryMs: 0,        // from ready: the outbox's wait after a failure the worker did not
                             // answer itself (the engine's outbox policy; 0: none known yet)
    lastHeard: 0,            // clock() of the worker's last message, or when calls began to wait
    bootTimer: null, waitTimer: null, silenceTimer: null, restartTimer: null,
  };

  // -- helpers -------------------------------------------------------------------------------

  function debug() {
    if (config.debug) console.debug.apply(console, [TAG].concat([].slice.call(arguments)));
  }

  /** An Error outcome made on this side; `transient`: whether time can cure it (the engine
   * decides that for everything it answers; here only a runtime that is down or a cancelled
   * call are). */
  function errorOutcome(code, message, field, transient) {
    return { status: "Error", error: { code: code, message: message, field: field || null,
      transient: !!transient } };
  }

  /** Whether a result failed for a reason time can cure (the engine's `error.transient`). */
  function transient(result) {
    return !!(result && result.error && result.error.transient === true);
  }

  /** A monotonic clock in ms (timers of the watchdog). */
  function clock() { return performance.now(); }

  function seconds(ms) { return Math.round(ms / 100) / 10 + " s"; }

  /** localStorage / sessionStorage, or an in-memory stand-in when the browser refuses them. */
  function storage(kind) {
    try {
      var store = window[kind];
      store.setItem("engage-web:probe", "1");
      store.removeItem("engage-web:probe");
      return store;
    } catch (err) {
      var memory = new Map();
      return {
        getItem: function (k) { return memory.has(k) ? memory.get(k) : null; },
        setItem: function (k, v) { memory.set(k, String(v)); },
        removeItem: function (k) { memory.delete(k); },
        key: function (i) { return Array.from(memory.keys())[i] || null; },
        get length() { return memory.size; },
      };
    }
  }

  /** Where the calls go: the endpoint, or the Domain API that names it. */
  function where() {
    return config.endpoint || "domain:" + (config.domainApi || DEFAULT_DOMAIN_API);
  }

  function sessionKey(name) {
    return "engage-web:" + name + ":" + where() + "|" + config.accountId;
  }

  function storedSession() {
    try {
      return {
        vid: sessions.vid.getItem(sessionKey("vid")),
        sid: sessions.sid.getItem(sessionKey("sid")),
      };
    } catch (err) {   // storage withdrawn while the page runs: start a new session
      debug("could not read the session ids:", err);
      return { vid: null, sid: null };
    }
  }

  /** The pageId of the last answer in this tab: a report belongs to that page by default. */
  function storedPageId() {
    try { return sessions.sid.getItem(sessionKey("page")); } catch (err) { return null; }
  }

  // -- the storage port ----------------------------------------------------------------------
  //
  // The worker decides what to keep (engage_web/browser/worker.py, PageStorage): it posts
  // {type: "store", area: "local" | "session", name, value (text, or null to forget)} and this
  // page writes it under sessionKey(name). Every init, and every call, hands the worker all
  // that is stored for the endpoint and account: {local: {name: text}, session: {name: text}}.

  function store(message) {
    var area = message.area === "session" ? sessions.sid : sessions.vid;
    var name = String(message.name);
    try {
      if (typeof message.value === "string") area.setItem(sessionKey(name), message.value);
      else area.removeItem(sessionKey(name));
    } catch (err) {
      debug("could not store " + name + ":", err);
    }
  }

  /** What is stored for the configured endpoint and account, for the worker's init. */
  function storedState() {
    var state = { local: {}, session: {} };
    var scope = ":" + where() + "|" + config.accountId;
    [["local", sessions.vid], ["session", sessions.sid]].forEach(function (pair) {
      try {
        for (var i = 0; i < pair[1].length; i++) {
          var key = pair[1].key(i);
          var found = key && /^engage-web:([a-z]+)(:.*)$/.exec(key);
          if (found && found[2] === scope) state[pair[0]][found[1]] = pair[1].getItem(key);
        }
      } catch (err) {   // storage withdrawn while the page runs: the worker starts afresh
        debug("could not read the stored state:", err);
      }
    });
    return state;
  }

  /** A binding (function, {callback, context}, or an array of either) as a list of entries. */
  function entries(binding) {
    var list = Array.isArray(binding) ? binding : [binding];
    return list.map(function (item) {
      if (typeof item === "function") return { callback: item, context: undefined };
      if (item && typeof item.callback === "function") {
        return { callback: item.callback, context: item.context };
      }
      return null;
    });
  }

  function emit(event, payload) {
    bindings[event].slice().forEach(function (entry) {
      try {
        var result = entry.callback.call(entry.context, payload);
        if (result && typeof result.then === "function") {
          result.then(null, function (err) {
            console.error(TAG + " an " + event + " callback failed; engage-web carries on:", err);
          });
        }
      } catch (err) {
        console.error(TAG + " an " + event + " callback threw; engage-web carries on:", err);
      }
    });
  }

  // -- the runtime: one worker at a time, watched, replaced when it dies ---------------------
  //
  // A worker starts once the configuration names an account. Calls wait here, on the page (the
  // backlog), until it has answered init; each waits at most bootTimeoutMs. A worker is dead
  // when it has not answered init by its boot deadline, reports a failed boot or a fatal Python
  // error, raises an error event, or stays silent for callBoundMs (the engine's own figure,
  // from the retry policy: every attempt, retry and answer is a message) while calls are in
  // flight. Then it is terminated, every call in flight ends with a `runtime` Error (transient:
  // queued reports stay in the outbox), `ready` turns false, and a new worker starts after a
  // backoff (RESTART_FIRST_MS, doubling per failure in a row up to RESTART_MAX_MS); the boot
  // deadline of a worker started after failures grows likewise, up to BOOT_PATIENCE_MAX times,
  // so a slow line still gets through. onReady fires again when it is up. Calls made while the
  // runtime is down get its Error at once.

  /** Hand a call to the worker, or keep it until the worker has answered init. */
  function send(message) {
    if (!runtime.booted) {
      backlog.push(message);
      armWait();
      return;
    }
    post(message);
  }

  /** Post a message to the (booted) worker; a call brings what is stored now (another tab may
   * have opened the visitor's session since init: a worker that holds none takes it). */
  function post(message) {
    if ((message.id !== undefined || message.type === "watch") && !message.stored) {
      message.stored = storedState();
    }
    if (message.id !== undefined) {
      var waiting = pending.get(message.id);
      if (!waiting) return;                             // answered meanwhile
      if (!inFlight()) runtime.lastHeard = clock();     // silence counts from the first call
      waiting.posted = true;
    }
    if (config.debug) debug("->", message.type, redacted(message));
    runtime.worker.postMessage(toJson(message));
    armSilence();
  }

  /** How many calls the worker has and has not answered yet. */
  function inFlight() {
    var count = 0;
    pending.forEach(function (waiting) { if (waiting.posted) count++; });
    return count;
  }

  /**
   * A copy of a message for debug output, without the visitor's data: engagement attributes
   * are left out and quoted values in messages (validation errors quote what they refused)
   * are masked.
   */
  function redacted(message) {
    var copy = JSON.parse(toJson(message));
    (function walk(node) {
      if (!node || typeof node !== "object") return;
      var keys = Object.keys(node);
      for (var i = 0; i < keys.length; i++) {
        var key = keys[i];
        var value = node[key];
        if (key === "engagementAttributes") {
          node[key] = "[redacted: " +
            (Array.isArray(value) ? value.length + " attribute(s)" : typeof value) + "]";
        } else if (key === "message" && typeof value === "string") {
          node[key] = value.replace(/'[^']*'|"[^"]*"/g, "'[redacted]'");
        } else {
          walk(value);
        }
      }
    })(copy);
    return copy;
  }

  /** A module Worker; from another origin `new Worker(url)` throws, so import it from a blob. */
  function createWorker(url) {
    try {
      return new Worker(url, { type: "module", name: "engage-web" });
    } catch (err) {
      debug("worker from " + url + " refused (" + err + "); starting a same-origin blob worker");
      runtime.blobUrl = URL.createObjectURL(
        new Blob(["import " + JSON.stringify(url) + ";\n"], { type: "text/javascript" }));
      return new Worker(runtime.blobUrl, { type: "module", name: "engage-web" });
    }
  }

  /**
   * Start a worker (none runs and no restart is due), or hand the running one a changed
   * configuration (an unchanged one is not resent).
   */
  function start() {
    var init, same;
    try {
      same = toJson(workerConfig());
      init = toJson({ type: "init", config: workerConfig(storedState()) });
    } catch (err) {
      fail("ChatApi.init: retry options must be JSON data: " + err.message, "config", "retry");
      return;
    }
    if (runtime.worker) {
      if (same === sentInit) return;
      sentInit = same;
      debug("-> init", workerConfig());
      if (runtime.booted) watching = null;   // the engine ends a watch when it is re-configured
      runtime.worker.postMessage(init);
      return;
    }
    if (runtime.restartTimer) return;        // the runtime is down: restart() comes back here
    sentInit = same;
    debug("-> init", workerConfig());
    var created;
    try {
      created = createWorker(workerUrl);
    } catch (err) {
      dead("the engage-web worker could not be created: " + err);
      return;
    }
    runtime.worker = created;
    runtime.booted = false;
    runtime.readyAt = 0;
    runtime.startedAt = clock();
    created.onmessage = function (event) {
      if (runtime.worker === created) receive(event.data);
    };
    created.onerror = function (event) {
      if (event.preventDefault) event.preventDefault();
      if (runtime.worker !== created) return;
      dead("the engage-web worker failed to load or crashed: " +
        (event.message || "is " + workerUrl + " served (as JavaScript)?"));
    };
    armBoot();
    armWait();
    created.postMessage(init);
  }

  function workerConfig(stored) {
    var out = { endpoint: config.endpoint, domainApi: config.domainApi,
      accountId: config.accountId, retry: config.retry, methodOverride: config.methodOverride,
      reuseAnswers: config.reuseAnswers, reuseMaxAgeMs: config.reuseMaxAgeMs };
    if (stored) out.stored = stored;
    return out;
  }

  /** A worker that has not answered init by its boot deadline is dead. */
  function armBoot() {
    clearTimeout(runtime.bootTimer);
    var limit = config.bootTimeoutMs * Math.min(Math.pow(2, runtime.failures), BOOT_PATIENCE_MAX);
    runtime.bootTimer = setTimeout(function () {
      runtime.bootTimer = null;
      if (runtime.worker && !runtime.booted) {
        dead("the engage-web runtime did not start within " + seconds(limit) +
          " (a download stalled, or the device is too busy)");
      }
    }, Math.max(0, runtime.startedAt + limit - clock()));
  }

  /** Calls (and reports) waiting for a booting worker wait at most bootTimeoutMs each. */
  function armWait() {
    clearTimeout(runtime.waitTimer);
    runtime.waitTimer = null;
    if (!runtime.worker || runtime.booted) return;
    var due = Infinity;
    function track(madeAt) {
      due = Math.min(due, Math.max(madeAt, runtime.startedAt) + config.bootTimeoutMs);
    }
    backlog.forEach(function (message) {
      var waiting = pending.get(message.id);
      if (waiting) track(waiting.madeAt);
    });
    outbox.waiters.forEach(function (waiter) { track(waiter.madeAt); });
    if (due === Infinity) return;
    runtime.waitTimer = setTimeout(expireWaits, Math.max(0, due - clock()));
  }

  function expireWaits() {
    runtime.waitTimer = null;
    if (!runtime.worker || runtime.booted) return;
    var now = clock();
    function overdue(madeAt) {
      return Math.max(madeAt, runtime.startedAt) + config.bootTimeoutMs <= now;
    }
    var late = errorOutcome("runtime", "the engage-web runtime is not up: it did not start " +
      "within " + seconds(config.bootTimeoutMs) + " and is still trying", null, true);
    backlog = backlog.filter(function (message) {
      var waiting = pending.get(message.id);
      if (!waiting) return false;
      if (!overdue(waiting.madeAt)) return true;
      settle(message.id, copy(late));
      return false;
    });
    outbox.waiters.forEach(function (waiter, id) {
      if (overdue(waiter.madeAt)) answer(id, copy(late), true);   // kept in the outbox
    });
    armWait();
  }

  /** While calls are in flight the worker must be heard from every callBoundMs. */
  function armSilence() {
    if (runtime.silenceTimer || !runtime.callBoundMs || !inFlight()) return;
    runtime.silenceTimer = setTimeout(function () {
      runtime.silenceTimer = null;
      if (!runtime.worker || !inFlight()) return;
      var quiet = clock() - runtime.lastHeard;
      if (quiet >= runtime.callBoundMs) {
        dead("the engage-web runtime stopped answering: nothing from it for " + seconds(quiet) +
          " with calls in flight (a call gives news at least every " +
          seconds(runtime.callBoundMs) + ")");
      } else {
        armSilence();
      }
    }, Math.max(0, runtime.lastHeard + runtime.callBoundMs - clock()));
  }

  /** The page (and with it its worker) was frozen: no time passed for the watchdog. */
  function wake() {
    runtime.lastHeard = clock();
    if (runtime.worker && !runtime.booted) {
      runtime.startedAt = clock();
      armBoot();
      armWait();
    }
  }

  /**
   * The runtime cannot serve: terminate the worker, answer every call in flight (and every
   * report of this page still waiting, which stays in the outbox) with a `runtime` Error, and
   * start a new worker after a backoff.
   */
  function dead(message) {
    var gone = runtime.worker;
    var healthy = runtime.readyAt && clock() - runtime.readyAt >= HEALTHY_MS;
    runtime.failures = healthy ? 1 : runtime.failures + 1;
    if (gone) {
      gone.onmessage = null;
      gone.onerror = null;
      try { gone.terminate(); } catch (err) { debug("terminate failed:", err); }
    }
    runtime.worker = null;
    runtime.booted = false;
    runtime.readyAt = 0;
    runtime.callBoundMs = 0;
    [runtime.bootTimer, runtime.waitTimer, runtime.silenceTimer].forEach(clearTimeout);
    runtime.bootTimer = runtime.waitTimer = runtime.silenceTimer = null;
    revokeBlob();
    sentInit = null;
    ready = false;
    var delay = Math.min(RESTART_MAX_MS, RESTART_FIRST_MS * Math.pow(2, runtime.failures - 1)) *
      (0.8 + 0.4 * Math.random());
    console.error(TAG + " " + message + "; a new runtime starts in " + seconds(delay) + ".");
    failure = errorOutcome("runtime", message, null, true);
    backlog = [];
    Array.from(pending.keys()).forEach(function (id) { settle(id, copy(failure)); });
    answerQueued(failure);
    // A watching page (a kiosk) learns that what it shows is no longer known; the watch goes
    // on with the new worker, whose first outcome follows.
    if (watching) emit("onEngagement", copy(failure));
    clearTimeout(runtime.restartTimer);
    runtime.restartTimer = setTimeout(restart, delay);
  }

  function restart() {
    runtime.restartTimer = null;
    if (failure && failure.error.code === "runtime") failure = null;
    start();
  }

  function receive(text) {
    runtime.lastHeard = clock();
    var message;
    try {
      message = JSON.parse(text);
    } catch (err) {
      console.error(TAG + " unreadable message from the worker:", text);
      return;
    }
    if (config.debug) debug("<-", message.type, redacted(message));
    if (message.type === "ready") {
      var fresh = !runtime.booted;
      runtime.booted = true;
      clearTimeout(runtime.bootTimer);
      clearTimeout(runtime.waitTimer);
      if (!runtime.readyAt) runtime.readyAt = clock();
      runtime.callBoundMs = message.callBoundMs > 0 ? message.callBoundMs : 0;
      if (message.outboxRetryMs > 0) runtime.outboxRetryMs = message.outboxRetryMs;
      clearTimeout(runtime.silenceTimer);   // armed again below, for the bound now in force
      runtime.silenceTimer = null;
      ready = true;
      failure = null;
      revokeBlob();
      emit("onReady", { version: VERSION, bootMs: message.bootMs, bootKind: message.bootKind });
      backlog.splice(0).forEach(post);
      if (fresh && watching) post(copy(watching));
      flushOutbox();
    } else if (message.type === "retry") {
      emit("onRetry", message.event);
    } else if (message.type === "attempt") {
      emit("onAttempt", message.event);
    } else if (message.type === "store") {
      store(message);
    } else if (message.type === "reusable") {
      storeAnswer(message);
    } else if (message.type === "engagement") {   // from a watch: the outcome changed
      emit("onEngagement", message.outcome);
      if (message.outcome && message.outcome.status !== "Error") flushOutbox();
    } else if (message.type === "outcome" || message.type === "reported") {
      settle(message.id, message.type === "outcome" ? message.outcome : message.result);
    } else if (message.type === "broken") {   // Python raised: the call still ends
      settle(message.id, errorOutcome("runtime", "engage-web internal error: " +
        ((message.error && message.error.message) || "unknown"), null, true));
    } else if (message.type === "fatal") {
      dead("the Python runtime failed and stopped: " +
        ((message.error && message.error.message) || "a fatal error"));
      return;
    } else if (message.type === "failed") {
      var error = message.error || {};
      if (error.code === "runtime") {
        dead(error.message || "the engage-web runtime could not start");
        return;
      }
      runtime.booted = true;                 // the runtime is up; the configuration is not
      clearTimeout(runtime.bootTimer);
      clearTimeout(runtime.waitTimer);
      fail(error.message || "the engage-web configuration is refused", error.code, error.field);
    }
    armSilence();
  }

  function settle(id, result) {
    var call = pending.get(id);
    if (!call) return;
    pending.delete(id);
    if (call.kind === "check") {
      emit("onEngagement", result);
      if (result && result.status !== "Error") flushOutbox();   // the endpoint is back
    }
    call.resolve(result);
  }

  /**
   * The configuration cannot serve (a bad option): answer every waiting call, and every later
   * one until init() changes it, with that Error. The worker stays: init() may fix it.
   */
  function fail(message, code, field) {
    console.error(TAG + " " + message);
    failure = errorOutcome(code || "config", message, field, false);
    ready = false;
    backlog = [];
    Array.from(pending.keys()).forEach(function (id) { settle(id, copy(failure)); });
    answerQueued(failure);   // reports of this page already stored stay for a later delivery
  }

  function revokeBlob() {
    if (runtime.blobUrl) { URL.revokeObjectURL(runtime.blobUrl); runtime.blobUrl = null; }
  }

  function copy(value) { return JSON.parse(toJson(value)); }

  /**
   * JSON text of a value, like JSON.stringify but immune to what old libraries do to built-ins
   * (Prototype.js's Array#toJSON turns arrays into strings; enumerable additions to
   * Object.prototype): own enumerable keys only, arrays as arrays, Dates as ISO strings.
   * Throws a TypeError for a cycle or a BigInt; functions and undefined are left out like
   * JSON.stringify does (null in arrays).
   */
  function toJson(value, seen) {
    seen = seen || [];
    if (value === null) return "null";
    var kind = typeof value;
    if (kind === "string") return quote(value);
    if (kind === "number") return isFinite(value) ? String(value) : "null";
    if (kind === "boolean") return value ? "true" : "false";
    if (kind === "bigint") throw new TypeError("a BigInt cannot be sent as JSON");
    if (kind !== "object") return undefined;   // function, symbol, undefined
    if (value instanceof Date) return quote(isNaN(value) ? "" : value.toISOString());
    for (var s = 0; s < seen.length; s++) {
      if (seen[s] === value) throw new TypeError("a cycle cannot be sent as JSON");
    }
    seen.push(value);
    var parts = [];
    var i;
    if (Array.isArray(value)) {
      for (i = 0; i < value.length; i++) {
        var item = toJson(value[i], seen);
        parts.push(item === undefined ? "null" : item);
      }
      seen.pop();
      return "[" + parts.join(",") + "]";
    }
    var keys = Object.keys(value);
    for (i = 0; i < keys.length; i++) {
      var text = toJson(value[keys[i]], seen);
      if (text !== undefined) parts.push(quote(keys[i]) + ":" + text);
    }
    seen.pop();
    return "{" + parts.join(",") + "}";
  }

  var nativeStringify = JSON.stringify;   // for strings only: no toJSON is involved
  function quote(text) { return nativeStringify.call(JSON, String(text)); }

  /** Queue a call to the worker; resolves with its answer (never rejects). */
  function call(kind, message, extra) {
    return new Promise(function (resolve) {
      var id = ++lastId;
      pending.set(id, { kind: kind, resolve: resolve, madeAt: clock(), posted: false });
      if (failure) { settle(id, copy(failure)); return; }
      var field = kind === "check" ? "params" : "engagementAttributes";
      var data;
      try {
        // A copy as JSON data, taken now: later changes to the page's objects do not leak in.
        data = JSON.parse(toJson(message));
        if (!(field in data)) throw new Error("JSON has no such value");   // a function...
      } catch (err) {   // a cycle, a BigInt...
        settle(id, errorOutcome(400, field + " must be JSON data (objects, lists, strings, " +
          "numbers); got " + describe(message[field]) + " (" + err.message + ")", field));
        return;
      }
      data.id = id;
      if (extra) Object.keys(extra).forEach(function (key) { data[key] = extra[key]; });
      send(data);
    });
  }

  // -- the public API ------------------------------------------------------------------------

  function getEngagement(params) {
    var message = { type: "check", params: params === undefined ? {} : params };
    var base = reuseBase(message.params);
    if (base === null) return call("check", message);
    var stored = !reuse.tried.has(base) && storedAnswer(base);
    reuse.tried.add(base);   // a page view's first call may reuse; later ones ask again
    if (stored) {
      return Promise.resolve().then(function () {
        emit("onEngagement", stored);
        return copy(stored);
      });
    }
    var reuseKey = "r" + hash(base);
    reuse.asked.delete(reuseKey);
    reuse.asked.set(reuseKey, base);
    if (reuse.asked.size > REUSE_KEEP) reuse.asked.delete(reuse.asked.keys().next().value);
    return call("check", message, { reuseKey: reuseKey });
  }

  /**
   * Add SDEs to the visitor's session through the durable outbox (see the header). Resolves with
   * the endpoint's answer for this report, or, when it cannot be delivered yet, with the Error
   * outcome plus `queued: true` (it stays in the outbox and is delivered later, in order).
   */
  function report(engagementAttributes, pageId) {
    var message = {
      type: "report",
      engagementAttributes: engagementAttributes === undefined ? [] : engagementAttributes,
      pageId: pageId === undefined ? null : pageId,
    };
    var data;
    try {
      data = JSON.parse(toJson(message));   // a copy taken now, as call() does
      if (!("engagementAttributes" in data)) throw new Error("JSON has no such value");
    } catch (err) {
      return call("report", message);   // answers with the 400 naming the field
    }
    return new Promise(function (resolve) {
      var configured = !!config.accountId;
      var entry = { id: entryId(), at: Date.now(), engagementAttributes: data.engagementAttributes,
        pageId: data.pageId === null && configured ? storedPageId() : data.pageId,
        session: configured ? storedSession() : null };
      outbox.waiters.set(entry.id, { resolve: resolve, madeAt: clock() });
      if (failure && failure.error.code !== "runtime") {   // misconfigured: refused, not kept
        answer(entry.id, copy(failure), false);
        return;
      }
      addEntry(entry);
      if (failure) {   // the runtime is down: kept, and delivered by the next one (or a tab)
        answer(entry.id, copy(failure), true);
      } else if (outbox.stalled) {   // an outage is known: do not wait for it again
        answer(entry.id, errorOutcome("network", "the endpoint is unreachable; the report is " +
          "kept and will be delivered when it answers again", null, true), true);
      } else {
        sendSoon();
        armWait();
      }
    });
  }

  // -- answers reused within their validity ------------------------------------------------
  //
  // The engine (engage_web/core/reuse.py) decides which answers a later page view of this visit may
  // reuse and until when: it sends {type: "reusable", key, expiresAt, outcome} for a check that
  // carried a reuseKey. The page stores that in sessionStorage, under the request (where, account,
  // reuseMaxAgeMs, the params as JSON) and the session the answer belongs to, and looks it up by
  // key and expiry only. A page view's first call for a request whose stored answer has not
  // expired, in the session stored now, resolves at once with it plus `fromCache: true` and
  // `ageMs`; its later calls for that request ask the endpoint again. Nothing is looked up or
  // offered when reuseAnswers is false. At most REUSE_KEEP answers are kept.

  var REUSE_PREFIX = "engage-web:answer:";
  var REUSE_KEEP = 16;
  var REUSE_MAX_TEXT = 65536;   // an answer larger than this is not stored

  /** The request part of a reuse key, or null when this call may not reuse or offer. */
  function reuseBase(params) {
    if (!config.reuseAnswers || !config.accountId || failure && failure.error.code !== "runtime") {
      return null;
    }
    try {
      return toJson([where(), String(config.accountId), config.reuseMaxAgeMs, params]);
    } catch (err) {
      return null;   // not JSON data: call() answers with the 400
    }
  }

  /** The whole key: the request and the visitor session. */
  function reuseText(base, vid, sid) { return base + "|" + vid + "|" + sid; }

  /** A short, stable hash of text (53-bit cyrb53), for storage keys and the worker's reuseKey. */
  function hash(text) {
    var h1 = 0xdeadbeef, h2 = 0x41c6ce57;
    for (var i = 0; i < text.length; i++) {
      var c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 2654435761);
      h2 = Math.imul(h2 ^ c, 1597334677);
    }
    h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
    h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507) ^ Math.imul(h1 ^ (h1 >>> 13), 3266489909);
    return (4294967296 * (2097151 & h2) + (h1 >>> 0)).toString(36);
  }

  /** The stored answer for this request in the current session, with its age, or null. */
  function storedAnswer(base) {
    var session = storedSession();
    if (!session.vid || !session.sid) return null;
    var text = reuseText(base, session.vid, session.sid);
    var record = readAnswer(REUSE_PREFIX + hash(text));
    if (!record || record.key !== text || record.expiresAt <= Date.now()) return null;
    var outcome = record.outcome;
    outcome.fromCache = true;
    outcome.ageMs = Math.max(0, Date.now() - record.storedAt);
    debug("answered from the answer stored " + seconds(outcome.ageMs) + " ago");
    return outcome;
  }

  /** A stored record, or null when it is missing or not one this file wrote. */
  function readAnswer(key) {
    try {
      var record = JSON.parse(sessions.sid.getItem(key) || "null");
      if (record && typeof record.key === "string" && typeof record.expiresAt === "number" &&
          typeof record.storedAt === "number" && record.outcome &&
          record.outcome.status === "Available") {
        return record;
      }
    } catch (err) {
      debug("a stored answer could not be read:", err);
    }
    return null;
  }

  /** Store what the engine offered, under the session the answer belongs to. */
  function storeAnswer(message) {
    var base = reuse.asked.get(message.key);
    var outcome = message.outcome;
    if (base === undefined || !outcome || typeof outcome.visitorId !== "string" ||
        typeof outcome.sessionId !== "string" || typeof message.expiresAt !== "number") {
      return;
    }
    var text = reuseText(base, outcome.visitorId, outcome.sessionId);
    var record = toJson({ key: text, storedAt: Date.now(), expiresAt: message.expiresAt,
      outcome: outcome });
    if (record.length > REUSE_MAX_TEXT) return;
    try {
      pruneAnswers();
      sessions.sid.setItem(REUSE_PREFIX + hash(text), record);
    } catch (err) {
      debug("could not store the answer for reuse:", err);
    }
  }

  /** Drop expired or unreadable answers, and the oldest beyond REUSE_KEEP - 1. */
  function pruneAnswers() {
    var kept = [];
    var now = Date.now();
    for (var i = sessions.sid.length - 1; i >= 0; i--) {
      var key = sessions.sid.key(i);
      if (!key || key.indexOf(REUSE_PREFIX) !== 0) continue;
      var record = readAnswer(key);
      if (!record || record.expiresAt <= now) sessions.sid.removeItem(key);
      else kept.push({ key: key, storedAt: record.storedAt });
    }
    kept.sort(function (a, b) { return a.storedAt - b.storedAt; });
    kept.slice(0, Math.max(0, kept.length - (REUSE_KEEP - 1))).forEach(function (old) {
      sessions.sid.removeItem(old.key);
    });
  }

  // -- the durable outbox of reports, shared by the tabs of a site ------------------------------
  //
  // Every report() is stored before it is sent, one localStorage key per entry
  // (ENTRY_PREFIX + endpoint|account + "#" + id), so tabs add and remove entries without
  // overwriting each other's. One tab at a time delivers (a Web Lock per endpoint and account),
  // oldest first, reading the stored entries again before each one and asking the ledger of
  // settled entries (below) before sending it: an entry is in flight from one tab at a time,
  // and a tab that opens later never sends it again. The tab that delivered
  // an entry says so on a BroadcastChannel, so the report() of the tab that made it resolves.
  // A new report is sent SEND_DELAY_MS after it was made, and no send starts once the page is
  // being left (beforeunload, pagehide): a report made just before a click that leaves the page
  // then goes with the next page view, instead of being cut off in flight (recorded by the
  // endpoint but still stored, and so sent twice).

  var OUTBOX_MAX = 500;                      // entries kept per endpoint and account
  var OUTBOX_MAX_AGE_MS = 6 * 3600 * 1000;   // a session lasts 6 hours at most: older is void
  var SEND_DELAY_MS = 50;                    // longer than a click takes to start a navigation
  var LEAVE_GRACE_MS = 5000;                 // a page still here this long after it was left
  var ENTRY_PREFIX = "engage-web:report:";

  var outbox = {
    prefix: null,          // the key prefix of the configured endpoint and account
    early: [],             // reports made before init named an account (memory)
    local: new Map(),      // key -> entry this tab could not store (quota): kept in memory
    gone: new Set(),       // keys this tab delivered but could not remove from storage
    waiters: new Map(),    // entry id -> {resolve, madeAt} of this page's report() calls
    flushing: false, again: false, stalled: false, timer: null, sendTimer: null,
    leaving: false, leaveTimer: null, guarded: false, channel: null,
  };

  /** A new entry's id: ids sort in the order this tab made them (the same millisecond too);
   * the random part keeps two tabs' ids apart. */
  function entryId() {
    function padded(number, width) {
      var text = number.toString(36);
      while (text.length < width) text = "0" + text;
      return text;
    }
    return padded(Date.now(), 9) + "-" + padded(++lastId, 7) + "-" +
      Math.random().toString(36).slice(2, 8);
  }

  /** The entries of the configured endpoint and account, oldest first (every tab's). */
  function outboxEntries() {
    var prefix = config.accountId ? ENTRY_PREFIX + where() + "|" + config.accountId + "#" : null;
    if (!prefix) return outbox.early.slice();
    if (prefix !== outbox.prefix) adopt(prefix);
    var found = new Map();
    var store = sessions.vid;
    var keys = [];
    try {
      for (var i = 0; i < store.length; i++) {
        var key = store.key(i);
        if (key && key.lastIndexOf(prefix, 0) === 0) keys.push(key);
      }
    } catch (err) {
      debug("could not list the report outbox:", err);
    }
    keys.forEach(function (key) {
      var entry = readEntry(key);
      if (entry) found.set(key, entry);
    });
    outbox.local.forEach(function (entry, key) {
      if (key.lastIndexOf(prefix, 0) === 0 && !found.has(key)) found.set(key, entry);
    });
    var now = Date.now();
    var entries = [];
    found.forEach(function (entry, key) {
      if (outbox.gone.has(key)) return;
      if (now - entry.at < OUTBOX_MAX_AGE_MS) { entries.push(entry); return; }
      removeEntry(entry);
      console.warn(TAG + " a queued report older than its session (6 hours) was dropped: it " +
        "can no longer be delivered");
    });
    return entries.sort(function (a, b) {
      return a.at - b.at || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
    });
  }

  /** The stored entry under `key`, or null (an unreadable one is removed). */
  function readEntry(key) {
    var entry = null;
    try {
      entry = JSON.parse(sessions.vid.getItem(key) || "null");
    } catch (err) {
      entry = null;
    }
    if (entry && typeof entry.id === "string" && typeof entry.at === "number" &&
        key === outbox.prefix + entry.id) {
      return entry;
    }
    try { sessions.vid.removeItem(key); } catch (err) { debug("could not remove", key, err); }
    return null;
  }

  /**
   * The outbox of a newly configured endpoint and account: reports made before init named one
   * join it, and so do the entries an earlier version kept as one array under one key.
   */
  function adopt(prefix) {
    outbox.prefix = prefix;
    openChannel();
    outbox.early.splice(0).forEach(storeEntry);
    var legacy = sessionKey("outbox");
    try {
      var old = JSON.parse(sessions.vid.getItem(legacy) || "null");
      if (Array.isArray(old)) {
        old.forEach(function (entry) {
          if (entry && typeof entry.id === "string" && typeof entry.at === "number") {
            storeEntry(entry);
          }
        });
      }
      sessions.vid.removeItem(legacy);
    } catch (err) {
      debug("the outbox of an earlier version is unreadable; it is left alone:", err);
    }
  }

  function storeEntry(entry) {
    var key = outbox.prefix + entry.id;
    try {
      sessions.vid.setItem(key, toJson(entry));
      outbox.local.delete(key);
    } catch (err) {   // quota or storage withdrawn: the entry lives in this page's memory
      debug("could not store a report in the outbox:", err);
      outbox.local.set(key, entry);
    }
  }

  function removeEntry(entry) {
    var key = outbox.prefix + entry.id;
    outbox.local.delete(key);
    try {
      sessions.vid.removeItem(key);
    } catch (err) {
      debug("could not remove a report from the outbox:", err);
      outbox.gone.add(key);
    }
  }

  /** Store a new report; past OUTBOX_MAX the oldest are dropped (and their callers told). */
  function addEntry(entry) {
    if (!config.accountId) { outbox.early.push(entry); return; }
    outboxEntries();   // adopts the outbox of this endpoint and account first
    storeEntry(entry);
    var entries = outboxEntries();
    if (entries.length <= OUTBOX_MAX) return;
    var dropped = entries.slice(0, entries.length - OUTBOX_MAX);
    console.warn(TAG + " the report outbox is full (" + OUTBOX_MAX + "); the " +
      dropped.length + " oldest report(s) were dropped");
    dropped.forEach(function (old) {
      removeEntry(old);
      var refused = errorOutcome("dropped", "the report outbox is full", null, false);
      refused.delivered = false;
      announce(old.id, refused);
    });
  }

  /** Resolve the waiting report() call of an entry, if this page made it and it still waits. */
  function answer(id, result, queued) {
    var waiter = outbox.waiters.get(id);
    if (!waiter) return;
    outbox.waiters.delete(id);
    if (queued) { result.queued = true; result.delivered = false; }
    waiter.resolve(result);
  }

  /** Every report of this page still waiting for its first answer learns it is kept for later. */
  function answerQueued(result) {
    Array.from(outbox.waiters.keys()).forEach(function (id) { answer(id, copy(result), true); });
  }

  /** An entry is settled for good (delivered, refused, dropped): tell its caller, in any tab. */
  function announce(id, result) {
    answer(id, result, false);
    broadcast({ type: "settled", id: id, result: result });
  }

  function openChannel() {
    if (outbox.channel || typeof BroadcastChannel !== "function") return;
    try {
      outbox.channel = new BroadcastChannel("engage-web:outbox");
    } catch (err) {
      debug("no BroadcastChannel:", err);
      return;
    }
    outbox.channel.onmessage = function (event) {
      var message = event.data || {};
      if (message.prefix !== outbox.prefix) return;
      if (message.type === "settled") {
        answer(message.id, copy(message.result), false);
      } else if (message.type === "queued") {   // the tab delivering met an outage
        outbox.stalled = true;
        answerQueued(message.result);
        retryLater(message.result);
      }
    };
  }

  function broadcast(message) {
    if (!outbox.channel) return;
    message.prefix = outbox.prefix;
    try { outbox.channel.postMessage(JSON.parse(toJson(message))); } catch (err) {
      debug("could not tell the other tabs:", err);
    }
  }

  /** Run `body(release)` holding the outbox's Web Lock (alone, where there is none); then done. */
  function withLock(name, body, done) {
    var locks = navigator.locks;
    var ran = false;
    function run(release) { ran = true; body(release); }
    if (!locks || typeof locks.request !== "function") { run(done); return; }
    try {
      locks.request(name, function () {
        return new Promise(function (release) { run(release); });
      }).then(done, function (err) {
        debug("the outbox lock failed:", err);
        if (ran) done(); else run(done);
      });
    } catch (err) {   // e.g. a sandboxed frame: deliver without the lock
      debug("no outbox lock:", err);
      run(done);
    }
  }

  /** A new report is sent a moment later, unless the page is being left by then. */
  function sendSoon() {
    if (outbox.sendTimer) return;
    outbox.sendTimer = setTimeout(function () {
      outbox.sendTimer = null;
      guard();
      flushOutbox();
    }, SEND_DELAY_MS);
    guard();
  }

  /** Listen to beforeunload only while a send is due or running (it may cost the bfcache). */
  function guard() {
    var want = !!(outbox.sendTimer || outbox.flushing);
    if (want === outbox.guarded) return;
    outbox.guarded = want;
    if (want) window.addEventListener("beforeunload", leaving);
    else window.removeEventListener("beforeunload", leaving);
  }

  /** The page is being left: start no send (the next page view delivers). */
  function leaving() {
    outbox.leaving = true;
    clearTimeout(outbox.leaveTimer);
    outbox.leaveTimer = setTimeout(staying, LEAVE_GRACE_MS);   // a cancelled navigation, a download
  }

  function staying() {
    clearTimeout(outbox.leaveTimer);
    if (!outbox.leaving) return;
    outbox.leaving = false;
    flushOutbox();
  }

  /**
   * Deliver the outbox, oldest first, one report at a time, holding its lock; stop at a failure
   * time can cure (the engine's `error.transient`); drop a report refused for good.
   */
  function flushOutbox() {
    if (!ready || outbox.leaving) return;
    if (outbox.flushing) { outbox.again = true; return; }
    if (!outboxEntries().length) return;
    outbox.flushing = true;
    outbox.again = false;
    outbox.stalled = false;
    clearTimeout(outbox.timer);
    guard();
    var prefix = outbox.prefix;
    withLock("engage-web:outbox:" + prefix, function (release) {
      ledgerPrune();
      (function next() {
        var usable = ready && !outbox.leaving && prefix === outbox.prefix;
        var entry = usable ? outboxEntries()[0] : null;   // read again: other tabs write too
        if (!entry) { release(); return; }
        ledgerHas(prefix + entry.id).then(function (settled) {
          if (settled) {   // another tab delivered it; this tab's storage had not heard yet
            removeEntry(entry);
            next();
            return;
          }
          deliver(entry, prefix, next, release);
        });
      })();
    }, function () {
      outbox.flushing = false;
      guard();
      if (outbox.again && !outbox.stalled) flushOutbox();
    });
  }

  /** Flush again after the `retryInMs` the worker's outbox policy named for this failure; for a
   * failure the worker never answered (a cancelled send, a runtime that went down), after the
   * policy's first wait, which the worker named when it was ready (a new worker also flushes
   * when it is ready). */
  function retryLater(result) {
    clearTimeout(outbox.timer);
    outbox.timer = null;
    var wait = result && result.retryInMs;
    if (typeof wait !== "number" || wait < 0) wait = runtime.outboxRetryMs || null;
    if (wait !== null) outbox.timer = setTimeout(flushOutbox, wait);
  }

  /** Send one entry (holding the lock); then `next()`, or `release()` at a curable failure. */
  function deliver(entry, prefix, next, release) {
    // The session it was made in; one made before any session existed takes today's, and the
    // page of today's answer.
    var made = entry.session && entry.session.sid;
    var session = made ? entry.session : storedSession();
    var pageId = entry.pageId || (made ? null : storedPageId());
    call("report", { type: "report", engagementAttributes: entry.engagementAttributes,
      pageId: pageId, session: session }).then(function (result) {
      if (prefix !== outbox.prefix) { release(); return; }   // re-init elsewhere
      var delivered = result && result.status === "Reported";
      if (!delivered && transient(result)) {
        outbox.stalled = true;
        answerQueued(result);
        broadcast({ type: "queued", result: result });
        debug("reports kept for later:", outboxEntries().length);
        retryLater(result);
        release();
        return;
      }
      // Settled for good: in the ledger before the lock can pass to another tab.
      ledgerAdd(prefix + entry.id).then(function () {
        removeEntry(entry);
        if (!delivered && !outbox.waiters.has(entry.id)) {
          console.warn(TAG + " a queued report was refused by the endpoint and dropped: " +
            ((redacted(result || {}).error || {}).message || "no answer"));
        }
        announce(entry.id, result);
        next();
      });
    });
  }

  // -- the ledger of settled reports (IndexedDB) ------------------------------------------------
  //
  // localStorage is not consistent across processes: a tab that takes the lock right after
  // another tab delivered and removed an entry may still see it (Chromium updates each tab's
  // copy of localStorage by message, not in step with the lock). IndexedDB is: a write whose
  // transaction completed is seen by every transaction started later, in any tab. So the tab
  // that settles an entry writes its key here before it releases the lock, and the next tab
  // asks here before it sends. Keys older than a session's 6 hours are pruned. Without
  // IndexedDB (a private mode that refuses it) the ledger says "not settled": the lock alone
  // keeps tabs apart, a rare second delivery remains possible.

  var LEDGER = { db: null, pruned: false };
  var LEDGER_TIMEOUT_MS = 3000;   // an IndexedDB that does not answer: go on without the ledger

  /** `promise`'s value, or null if it rejects or takes longer than LEDGER_TIMEOUT_MS. */
  function bounded(promise) {
    return new Promise(function (resolve) {
      var timer = setTimeout(function () { resolve(null); }, LEDGER_TIMEOUT_MS);
      promise.then(function (value) { clearTimeout(timer); resolve(value); },
        function () { clearTimeout(timer); resolve(null); });
    });
  }

  function ledgerStore(mode, work) {
    if (!LEDGER.db) {
      LEDGER.db = bounded(new Promise(function (resolve) {
        try {
          var request = indexedDB.open("engage-web", 1);
          request.onupgradeneeded = function () { request.result.createObjectStore("settled"); };
          request.onsuccess = function () { resolve(request.result); };
          request.onerror = function () { resolve(null); };
          request.onblocked = function () { resolve(null); };
        } catch (err) {
          debug("no IndexedDB for the outbox ledger:", err);
          resolve(null);
        }
      }));
    }
    return LEDGER.db.then(function (db) {
      return bounded(new Promise(function (resolve) {
        if (!db) { resolve(null); return; }
        try {
          var transaction = db.transaction("settled", mode);
          var result = work(transaction.objectStore("settled"));
          transaction.oncomplete = function () { resolve(result.value); };
          transaction.onerror = transaction.onabort = function () { resolve(null); };
        } catch (err) {
          debug("the outbox ledger failed:", err);
          resolve(null);
        }
      }));
    });
  }

  /** Whether a report (its full key) was settled by some tab. */
  function ledgerHas(key) {
    return ledgerStore("readonly", function (store) {
      var found = { value: false };
      var request = store.count(key);
      request.onsuccess = function () { found.value = request.result > 0; };
      return found;
    }).then(function (found) { return !!found; });
  }

  /** Record a report as settled; resolves once the write is durable (or failed). */
  function ledgerAdd(key) {
    return ledgerStore("readwrite", function (store) {
      store.put(Date.now(), key);
      return { value: true };
    });
  }

  /** Forget what was settled more than a session's life ago (once per page view). */
  function ledgerPrune() {
    if (LEDGER.pruned) return;
    LEDGER.pruned = true;
    var before = Date.now() - OUTBOX_MAX_AGE_MS - 3600 * 1000;
    ledgerStore("readwrite", function (store) {
      var request = store.openCursor();
      request.onsuccess = function () {
        var cursor = request.result;
        if (!cursor) return;
        if (!(cursor.value >= before)) cursor.delete();
        cursor.continue();
      };
      return { value: true };
    });
  }

  function cancel() {
    // Calls still waiting for a runtime never reached a worker: answer them here.
    watching = null;
    backlog.splice(0).forEach(function (message) {
      settle(message.id, errorOutcome("cancelled", "cancelled by ChatApi.cancel()", null, true));
    });
    if (runtime.booted) post({ type: "cancel" });
  }

  /**
   * Keep the answer fresh (kiosks): re-check on a schedule and fire onEngagement for the first
   * outcome and then only when it changes. Options in milliseconds: intervalMs, expiryMarginMs,
   * outageIntervalMs, minIntervalMs. A new watch replaces the previous one; every new worker
   * (after the runtime died) takes it up again.
   */
  function watch(params, options) {
    if (failure && failure.error.code !== "runtime") {
      emit("onEngagement", copy(failure));
      return false;
    }
    var data;
    try {
      data = JSON.parse(toJson({ type: "watch", params: params === undefined ? {} : params,
        options: options === undefined ? {} : options }));
      if (!("params" in data) || !("options" in data)) throw new Error("not JSON data");
    } catch (err) {
      console.error(TAG + " ChatApi.watch(params, options): both must be JSON data; " + err.message);
      return false;
    }
    watching = data;
    if (failure) emit("onEngagement", copy(failure));   // down for now: the next worker watches
    else if (runtime.booted) post(copy(data));
    return true;
  }

  /** Stop the watch (if any). */
  function unwatch() {
    watching = null;
    if (runtime.booted) post({ type: "unwatch" });
    return true;
  }

  function bind(event, binding) {
    if (EVENTS.indexOf(event) < 0) {
      console.error(TAG + " ChatApi.bind: event must be one of " + EVENTS.join(", ") +
        "; got " + JSON.stringify(String(event)));
      return false;
    }
    var list = entries(binding);
    if (!list.length || list.indexOf(null) >= 0) {
      console.error(TAG + " ChatApi.bind(\"" + event + "\", binding): binding must be a function, " +
        "{callback, context} or an array of those; got " + describe(binding));
      return false;
    }
    // A callback already bound with the same context is not bound twice (init() may repeat it).
    list = list.filter(function (entry) {
      return !bindings[event].some(function (had) {
        return had.callback === entry.callback && had.context === entry.context;
      });
    });
    bindings[event] = bindings[event].concat(list);
    if (event === "onReady" && ready) {
      list.forEach(function (entry) {   // late binders still hear that the runtime is up
        Promise.resolve().then(function () {
          try { entry.callback.call(entry.context, { version: VERSION }); } catch (err) {
            console.error(TAG + " an onReady callback threw; engage-web carries on:", err);
          }
        });
      });
    }
    return true;
  }

  function unbind(event, binding) {
    if (EVENTS.indexOf(event) < 0) {
      console.error(TAG + " ChatApi.unbind: event must be one of " + EVENTS.join(", ") +
        "; got " + JSON.stringify(String(event)));
      return false;
    }
    if (binding === undefined) { bindings[event] = []; return true; }
    var gone = entries(binding).filter(Boolean);
    bindings[event] = bindings[event].filter(function (entry) {
      return !gone.some(function (g) {
        return g.callback === entry.callback &&
          (g.context === undefined || g.context === entry.context);
      });
    });
    return true;
  }

  function describe(value) {
    if (value === null || value === undefined) return String(value);
    if (typeof value === "function") return "a function";
    if (typeof value === "bigint") return "a BigInt";
    if (typeof value === "object") return Array.isArray(value) ? "an array" : "an object";
    return typeof value + " " + JSON.stringify(String(value));
  }

  /** Set or change options; starts the runtime once endpoint and accountId are known. */
  function init(options) {
    options = options || {};
    if (typeof options !== "object") {
      console.error(TAG + " ChatApi.init(config): config must be an object; got " +
        describe(options));
      return false;
    }
    if (options.endpoint !== undefined) {
      config.endpoint = options.endpoint === null ? null : absolute(options.endpoint);
    }
    if (options.domainApi !== undefined) {
      config.domainApi = options.domainApi === null ? null : absolute(options.domainApi);
    }
    if (options.accountId !== undefined) config.accountId = options.accountId;
    if (options.retry !== undefined) config.retry = options.retry;
    if (options.methodOverride !== undefined) config.methodOverride = !!options.methodOverride;
    if (options.debug !== undefined) config.debug = !!options.debug;
    if (options.bootTimeoutMs !== undefined) setBootTimeout(options.bootTimeoutMs);
    if (options.reuseAnswers !== undefined) config.reuseAnswers = options.reuseAnswers;
    if (options.reuseMaxAgeMs !== undefined) config.reuseMaxAgeMs = options.reuseMaxAgeMs;
    EVENTS.forEach(function (event) {
      if (options[event] !== undefined) bind(event, options[event]);
    });
    if (config.accountId) {
      if (failure && failure.error.code === "config") failure = null;   // a new config may fix it
      start();
      return true;
    }
    console.error(TAG + " ChatApi.init: accountId is required (data-account-id on the script " +
      "tag or ChatApi.init({accountId})); calls wait until it is set.");
    return false;
  }

  /** How long a call waits for the runtime to start (ms); a booting worker's clock restarts. */
  function setBootTimeout(value) {
    var ms = Number(value);
    if (value === null || typeof value === "boolean" || !isFinite(ms) || ms <= 0) {
      console.error(TAG + " ChatApi.init: bootTimeoutMs must be a positive number of " +
        "milliseconds; got " + describe(value) + " (kept " + config.bootTimeoutMs + ")");
      return;
    }
    config.bootTimeoutMs = ms;
    if (runtime.worker && !runtime.booted) { armBoot(); armWait(); }
  }

  function absolute(endpoint) {
    try { return new URL(String(endpoint), location.href).href.replace(/\/+$/, ""); } catch (err) {
      return String(endpoint);   // the engine rejects it with a clear message
    }
  }

  /** PyScript pages: the embed never touches PyScript; say how Python callbacks are bound. */
  var pyscriptNoticed = false;
  function noticePyScript() {
    if (pyscriptNoticed) return;
    var found = document.querySelector(
      'script[type="py"], script[type="mpy"], script[type="pyodide"], py-config, py-script, mpy-script') ||
      (window.customElements && window.customElements.get("py-script"));
    if (!found) return;
    pyscriptNoticed = true;
    console.info(TAG + " this page runs PyScript. engage-web runs its own Python in a Web Worker " +
      "and leaves PyScript alone. To handle outcomes in Python, load dist/pyscript.json as the " +
      "PyScript config and bind with engage_web.browser.page (`from engage_web.browser.page " +
      "import bind; bind(\"onEngagement\", handler)`); see dist/examples/python-callback.html.");
  }

  var api = {
    getEngagement: getEngagement,
    init: init,
    bind: bind,
    unbind: unbind,
    report: report,
    cancel: cancel,
    watch: watch,
    unwatch: unwatch,
  };
  Object.defineProperty(api, "engageWeb", { value: VERSION });
  Object.defineProperty(api, "ready", { get: function () { return ready; }, enumerable: true });
  Object.defineProperty(api, "queuedReports", {
    get: function () { return outboxEntries().length; }, enumerable: true });
  window.ChatApi = api;

  // -- start from the script tag ---------------------------------------------------------------

  var data = (script && script.dataset) || {};
  var fromTag = {};
  if (data.endpoint) fromTag.endpoint = data.endpoint;
  if (data.domainApi) fromTag.domainApi = data.domainApi;
  if (data.accountId) fromTag.accountId = data.accountId;
  if (data.retryPreset) fromTag.retry = { preset: data.retryPreset };
  if (data.methodOverride !== undefined) fromTag.methodOverride = data.methodOverride !== "false";
  if (data.debug !== undefined) fromTag.debug = data.debug !== "false";
  if (data.bootTimeoutMs !== undefined) fromTag.bootTimeoutMs = data.bootTimeoutMs;
  if (data.reuseAnswers !== undefined) fromTag.reuseAnswers = data.reuseAnswers !== "false";
  if (data.reuseMaxAgeMs !== undefined) {
    var cap = Number(data.reuseMaxAgeMs);
    fromTag.reuseMaxAgeMs = data.reuseMaxAgeMs === "" || !isFinite(cap) ? data.reuseMaxAgeMs : cap;
  }
  if (fromTag.endpoint || fromTag.domainApi || fromTag.accountId) init(fromTag);
  else {
    if (fromTag.debug) config.debug = true;
    if (fromTag.bootTimeoutMs !== undefined) setBootTimeout(fromTag.bootTimeoutMs);
  }

  window.addEventListener("online", function () { flushOutbox(); });
  // Leaving the page: no report send starts (see the outbox); back from the bfcache: go on.
  window.addEventListener("pagehide", leaving);
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    wake();
    staying();
  });
  document.addEventListener("resume", wake);   // Chromium froze the page (and its worker)
  noticePyScript();
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", noticePyScript);
  }
})();

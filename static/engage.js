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
 *   - The visitor session lives here, on the page: vid in localStorage, sid and the pageId of the
 *     last answer in sessionStorage (keys scoped by endpoint, or Domain API, and account; memory
 *     when storage is unavailable). The ids of every Available / NotAvailable outcome are stored
 *     and sent with the next call. The base the Domain API named for the account is kept in
 *     localStorage too (the worker says when it resolves or forgets one).
 *   - Including the tag twice is harmless: the second copy says so (console.info) and stops.
 *   - Nothing a page reports is lost to an outage: every report() goes into a durable outbox
 *     (localStorage, per endpoint and account) before it is sent, and leaves it only once the
 *     endpoint has answered for it. Reports are delivered one at a time, oldest first, each in
 *     the session it was made in; a failure time can cure (network, timeout, 429, 5xx) keeps the
 *     entry and the ones behind it for a later flush (when the runtime starts, after any check
 *     answered, when the browser is back online, and every 30 s while entries wait).
 *
 * Options come from the tag's data-* attributes (data-account-id, data-endpoint or
 * data-domain-api, data-retry-preset, data-method-override, data-debug) or from
 * ChatApi.init({accountId, endpoint, domainApi, retry, methodOverride, debug, ...}). With only an
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

  // -- state ---------------------------------------------------------------------------------

  var config = { endpoint: null, domainApi: null, accountId: null, retry: null,
    methodOverride: false, debug: false };
  var bindings = { onEngagement: [], onRetry: [], onAttempt: [], onReady: [] };
  var pending = new Map();   // call id -> {kind, resolve}
  var backlog = [];          // messages waiting for a worker (no endpoint/account configured yet)
  var worker = null;
  var sentInit = null;       // the last init message sent (JSON text)
  var workerUrl = new URL("engage-worker.mjs", (script && script.src) || location.href).href;
  var blobUrl = null;
  var ready = false;
  var failure = null;        // the Error outcome every call gets once the runtime cannot start
  var lastId = 0;
  var sessions = { vid: storage("localStorage"), sid: storage("sessionStorage") };
  var outbox = { key: null, entries: [], waiters: new Map(), flushing: false, stalled: false,
    timer: null };

  // -- helpers -------------------------------------------------------------------------------

  function debug() {
    if (config.debug) console.debug.apply(console, [TAG].concat([].slice.call(arguments)));
  }

  function errorOutcome(code, message, field) {
    return { status: "Error", error: { code: code, message: message, field: field || null } };
  }

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

  /** The base the Domain API named for this account, as the worker last reported it. */
  function storedBase() {
    if (config.endpoint) return null;
    try { return JSON.parse(sessions.vid.getItem(sessionKey("base")) || "null"); } catch (err) {
      return null;
    }
  }

  function storeBase(message) {
    try {
      if (message.base) {
        sessions.vid.setItem(sessionKey("base"),
          toJson({ base: message.base, resolvedAt: message.resolvedAt }));
      } else {
        sessions.vid.removeItem(sessionKey("base"));
      }
    } catch (err) {
      debug("could not store the resolved base:", err);
    }
  }

  function remember(outcome) {
    var status = outcome && outcome.status;
    if ((status === "Available" || status === "NotAvailable") &&
        typeof outcome.visitorId === "string" && typeof outcome.sessionId === "string") {
      try {
        sessions.vid.setItem(sessionKey("vid"), outcome.visitorId);
        sessions.sid.setItem(sessionKey("sid"), outcome.sessionId);
        if (typeof outcome.pageId === "string") {
          sessions.sid.setItem(sessionKey("page"), outcome.pageId);
        }
      } catch (err) {
        debug("could not store the session ids:", err);
      }
    }
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

  // -- the worker ----------------------------------------------------------------------------

  /** Post a message to the worker, or keep it until the worker exists (no endpoint yet). */
  function send(message) {
    if (!worker) { backlog.push(message); return; }
    if ((message.id !== undefined || message.type === "watch") && !message.session) {
      message.session = storedSession();   // read when sent (a queued report brings its own)
    }
    if (config.debug) debug("->", message.type, redacted(message));
    worker.postMessage(toJson(message));
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
      blobUrl = URL.createObjectURL(
        new Blob(["import " + JSON.stringify(url) + ";\n"], { type: "text/javascript" }));
      return new Worker(blobUrl, { type: "module", name: "engage-web" });
    }
  }

  /** Start the worker, or hand it a changed configuration (an unchanged one is not resent). */
  function start() {
    var init, same;
    try {
      same = toJson(workerConfig());
      init = toJson({ type: "init", config: workerConfig(storedBase()) });
    } catch (err) {
      fail("ChatApi.init: retry options must be JSON data: " + err.message, "config", "retry");
      return;
    }
    if (same === sentInit) return;
    sentInit = same;
    debug("-> init", workerConfig());
    if (worker) { worker.postMessage(init); return; }
    try {
      worker = createWorker(workerUrl);
    } catch (err) {
      fail("the engage-web worker could not be created: " + err);
      return;
    }
    worker.onmessage = function (event) { receive(event.data); };
    worker.onerror = function (event) {
      if (event.preventDefault) event.preventDefault();
      fail("the engage-web worker failed to load or crashed: " +
        (event.message || "is " + workerUrl + " served (as JavaScript)?"));
    };
    worker.postMessage(init);
    backlog.splice(0).forEach(send);
  }

  function workerConfig(cachedBase) {
    var out = { endpoint: config.endpoint, domainApi: config.domainApi,
      accountId: config.accountId, retry: config.retry, methodOverride: config.methodOverride };
    if (cachedBase) out.cachedBase = cachedBase;
    return out;
  }

  function receive(text) {
    var message;
    try {
      message = JSON.parse(text);
    } catch (err) {
      console.error(TAG + " unreadable message from the worker:", text);
      return;
    }
    if (config.debug) debug("<-", message.type, redacted(message));
    if (message.type === "ready") {
      ready = true;
      failure = null;
      revokeBlob();
      emit("onReady", { version: VERSION, bootMs: message.bootMs, bootKind: message.bootKind });
      flushOutbox();
    } else if (message.type === "retry") {
      emit("onRetry", message.event);
    } else if (message.type === "attempt") {
      emit("onAttempt", message.event);
    } else if (message.type === "base") {
      storeBase(message);
    } else if (message.type === "engagement") {   // from a watch: the outcome changed
      remember(message.outcome);
      emit("onEngagement", message.outcome);
      if (message.outcome && message.outcome.status !== "Error") flushOutbox();
    } else if (message.type === "outcome" || message.type === "reported") {
      settle(message.id, message.type === "outcome" ? message.outcome : message.result);
    } else if (message.type === "failed") {
      var error = message.error || {};
      fail(error.message || "the engage-web runtime could not start", error.code, error.field);
    }
  }

  function settle(id, result) {
    var call = pending.get(id);
    if (!call) return;
    pending.delete(id);
    if (call.kind === "check") {
      remember(result);
      emit("onEngagement", result);
      if (result && result.status !== "Error") flushOutbox();   // the endpoint is back
    }
    call.resolve(result);
  }

  /** The runtime cannot serve: answer every waiting call, and every later one, with an Error. */
  function fail(message, code, field) {
    console.error(TAG + " " + message);
    failure = errorOutcome(code || "runtime", message, field);
    ready = false;
    revokeBlob();
    Array.from(pending.keys()).forEach(function (id) { settle(id, copy(failure)); });
  }

  function revokeBlob() {
    if (blobUrl) { URL.revokeObjectURL(blobUrl); blobUrl = null; }
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
  function call(kind, message) {
    return new Promise(function (resolve) {
      var id = ++lastId;
      pending.set(id, { kind: kind, resolve: resolve });
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
      send(data);
    });
  }

  // -- the public API ------------------------------------------------------------------------

  function getEngagement(params) {
    return call("check", { type: "check", params: params === undefined ? {} : params });
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
      var entry = { id: Date.now().toString(36) + "-" + (++lastId), at: Date.now(),
        engagementAttributes: data.engagementAttributes,
        pageId: data.pageId === null && configured ? storedPageId() : data.pageId,
        session: configured ? storedSession() : null };
      outboxEntries().push(entry);
      saveOutbox();
      outbox.waiters.set(entry.id, resolve);
      if (outbox.stalled) {   // an outage is known: do not wait for it again, say it is kept
        answerQueued(errorOutcome("network", "the endpoint is unreachable; the report is kept " +
          "and will be delivered when it answers again", null));
      } else {
        flushOutbox();
      }
    });
  }

  // -- the durable outbox of reports ------------------------------------------------------------

  var OUTBOX_MAX = 500;                      // entries kept per endpoint and account
  var OUTBOX_MAX_AGE_MS = 6 * 3600 * 1000;   // a session lasts 6 hours at most: older is void
  var OUTBOX_RETRY_MS = 30000;

  /** The outbox of the configured endpoint and account, loaded from localStorage on a change. */
  function outboxEntries() {
    var key = config.accountId ? sessionKey("outbox") : null;
    if (key !== outbox.key) {
      var early = outbox.key === null ? outbox.entries : [];   // made before init named one
      var stored = [];
      if (key) {
        try { stored = JSON.parse(sessions.vid.getItem(key) || "[]"); } catch (err) {
          debug("the stored outbox is unreadable; starting a new one:", err);
        }
      }
      var now = Date.now();
      outbox.entries = (Array.isArray(stored) ? stored : []).filter(function (entry) {
        var fresh = entry && typeof entry.id === "string" && now - entry.at < OUTBOX_MAX_AGE_MS;
        if (entry && !fresh) console.warn(TAG + " a queued report older than its session " +
          "(6 hours) was dropped: it can no longer be delivered");
        return fresh;
      }).concat(early);
      outbox.key = key;
      if (key) saveOutbox();
    }
    return outbox.entries;
  }

  function saveOutbox() {
    if (outbox.entries.length > OUTBOX_MAX) {
      var dropped = outbox.entries.splice(0, outbox.entries.length - OUTBOX_MAX);
      console.warn(TAG + " the report outbox is full (" + OUTBOX_MAX + "); the " +
        dropped.length + " oldest report(s) were dropped");
      dropped.forEach(function (entry) {
        var refused = errorOutcome("dropped", "the report outbox is full", null);
        refused.delivered = false;
        answer(entry.id, refused, false);
      });
    }
    if (!outbox.key) return;
    try {
      if (outbox.entries.length) {
        sessions.vid.setItem(outbox.key, toJson(outbox.entries));
      } else {
        sessions.vid.removeItem(outbox.key);
      }
    } catch (err) {   // quota or storage withdrawn: the entries still live in memory
      debug("could not store the report outbox:", err);
    }
  }

  /** Resolve the waiting report() call of an entry, if this page made it and it still waits. */
  function answer(id, result, queued) {
    var resolve = outbox.waiters.get(id);
    if (!resolve) return;
    outbox.waiters.delete(id);
    if (queued) { result.queued = true; result.delivered = false; }
    resolve(result);
  }

  /** Every report still waiting for its first answer learns that it is kept for later. */
  function answerQueued(result) {
    outbox.entries.forEach(function (entry) { answer(entry.id, copy(result), true); });
  }

  /** A failure that time can cure: keep the report and try again later. */
  function curable(result) {
    var error = (result && result.error) || {};
    var code = error.code === "lookup" ? error.cause : error.code;
    return code === "network" || code === "timeout" || code === "malformed" ||
      code === "runtime" || code === "cancelled" || code === 429 ||
      (typeof code === "number" && code >= 500);
  }

  /** Deliver the outbox, oldest first, one report at a time; stop at a curable failure. */
  function flushOutbox() {
    if (outbox.flushing || !worker || !outboxEntries().length) return;
    outbox.flushing = true;
    outbox.stalled = false;
    clearTimeout(outbox.timer);
    (function next() {
      var entry = outbox.entries[0];
      if (!entry) { outbox.flushing = false; return; }
      var key = outbox.key;
      // The session it was made in; one made before any session existed takes today's, and
      // the page of today's answer.
      var made = entry.session && entry.session.sid;
      var session = made ? entry.session : storedSession();
      var pageId = entry.pageId || (made ? null : storedPageId());
      call("report", { type: "report", engagementAttributes: entry.engagementAttributes,
        pageId: pageId, session: session }).then(function (result) {
        if (key !== outbox.key) { outbox.flushing = false; return; }   // re-init elsewhere
        var delivered = result && result.status === "Reported";
        if (!delivered && curable(result)) {
          outbox.flushing = false;
          outbox.stalled = true;
          answerQueued(result);
          debug("reports kept for later:", outbox.entries.length);
          outbox.timer = setTimeout(flushOutbox, OUTBOX_RETRY_MS);
          return;
        }
        var index = outbox.entries.indexOf(entry);
        if (index >= 0) outbox.entries.splice(index, 1);
        saveOutbox();
        if (!delivered && !outbox.waiters.has(entry.id)) {
          console.warn(TAG + " a queued report was refused by the endpoint and dropped: " +
            ((redacted(result || {}).error || {}).message || "no answer"));
        }
        answer(entry.id, result, false);
        next();
      });
    })();
  }

  function cancel() {
    // Calls still waiting for an endpoint never reached the worker: answer them here.
    if (!worker) {
      backlog.length = 0;
      Array.from(pending.keys()).forEach(function (id) {
        settle(id, errorOutcome("cancelled", "cancelled by ChatApi.cancel()", null));
      });
      return;
    }
    send({ type: "cancel" });
  }

  /**
   * Keep the answer fresh (kiosks): re-check on a schedule and fire onEngagement for the first
   * outcome and then only when it changes. Options in milliseconds: intervalMs, expiryMarginMs,
   * outageIntervalMs, minIntervalMs. A new watch replaces the previous one.
   */
  function watch(params, options) {
    if (failure) { emit("onEngagement", copy(failure)); return false; }
    var data;
    try {
      data = JSON.parse(toJson({ type: "watch", params: params === undefined ? {} : params,
        options: options === undefined ? {} : options }));
      if (!("params" in data) || !("options" in data)) throw new Error("not JSON data");
    } catch (err) {
      console.error(TAG + " ChatApi.watch(params, options): both must be JSON data; " + err.message);
      return false;
    }
    send(data);
    return true;
  }

  /** Stop the watch (if any). */
  function unwatch() {
    if (worker) send({ type: "unwatch" });
    else backlog = backlog.filter(function (m) { return m.type !== "watch"; });
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
  if (fromTag.endpoint || fromTag.domainApi || fromTag.accountId) init(fromTag);
  else if (fromTag.debug) config.debug = true;

  window.addEventListener("online", function () { flushOutbox(); });
  noticePyScript();
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", noticePyScript);
  }
})();

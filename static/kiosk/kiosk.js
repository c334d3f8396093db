/*
 * kiosk.js: the full-screen chat kiosk (dist/kiosk.html), built to stay open for days.
 *
 *   kiosk.html?interval=30&sections=Support,English
 *
 * It asks the engine to watch availability (ChatApi.watch) and shows a chat button only while
 * an engagement is Available; otherwise a calm "no agents right now". When the service cannot
 * be reached it says "Reconnecting" and waits for the engine's watch to recover: never a dialog.
 *
 * Options (query string; defaults from the data-* attributes of this script tag):
 *   interval   seconds between checks, 1..3600 (data-interval, default 60)
 *   sections   comma-separated consumer sections (data-sections)
 *   margin     seconds before an engagement expires to re-check it, 0..3600 (default 30)
 *   outage     seconds before the first re-check after an outage, 1..3600 (default 5)
 *   log        1 shows the last changes at the bottom (default 0)
 * A bad value is named on screen, with what was expected, and the default is used instead.
 *
 * Bounded for long runs: every DOM node exists from the start (shown, hidden, relabelled), the
 * listeners are added once, and the history is a ring of the last RING_SIZE changes.
 */
(function () {
  "use strict";

  var RING_SIZE = 8;
  var ACCEPTED_MS = 12000;

  var script = document.currentScript;
  var root = document.getElementById("kiosk");
  var title = document.getElementById("kiosk-title");
  var text = document.getElementById("kiosk-text");
  var button = document.getElementById("kiosk-button");
  var since = document.getElementById("kiosk-since");
  var statusEl = document.getElementById("kiosk-status");
  var logEl = document.getElementById("kiosk-log");

  var ring = [];                 // the last RING_SIZE changes: {time, label}
  var impression = null;         // the ids of the engagement on show
  var current = null;            // the last outcome received
  var acceptedTimer = 0;

  // -- options ---------------------------------------------------------------------------------

  var SPECS = {
    interval: { kind: "seconds", min: 1, max: 3600, fallback: Number(script.dataset.interval) || 60 },
    margin: { kind: "seconds", min: 0, max: 3600, fallback: 30 },
    outage: { kind: "seconds", min: 1, max: 3600, fallback: 5 },
    sections: { kind: "sections", fallback: script.dataset.sections || "" },
    log: { kind: "flag", fallback: false },
  };

  /** The options from the query string, and a message for each value that was refused. */
  function readOptions(search) {
    var query = new URLSearchParams(search);
    var options = {};
    var problems = [];
    Object.keys(SPECS).forEach(function (name) { options[name] = SPECS[name].fallback; });
    query.forEach(function (raw, name) {
      var spec = SPECS[name];
      if (!spec) {
        problems.push("Unknown option \u201c" + name + "\u201d; allowed: " +
          Object.keys(SPECS).join(", ") + ".");
        return;
      }
      if (spec.kind === "seconds") {
        var n = Number(raw);
        if (raw.trim() === "" || !isFinite(n) || n < spec.min || n > spec.max) {
          problems.push(name + " must be a number of seconds from " + spec.min + " to " +
            spec.max + "; got \u201c" + raw + "\u201d. Using " + spec.fallback + ".");
          return;
        }
        options[name] = n;
      } else if (spec.kind === "sections") {
        var list = raw.split(",").map(function (s) { return s.trim(); });
        var bad = list.filter(function (s) { return !s || s.length > 100; });
        if (!raw.trim() || bad.length) {
          problems.push("sections must be a comma-separated list of names (1 to 100 characters " +
            "each); got \u201c" + raw + "\u201d. Using \u201c" + spec.fallback + "\u201d.");
          return;
        }
        options.sections = list.join(",");
      } else if (spec.kind === "flag") {
        if (raw !== "0" && raw !== "1") {
          problems.push(name + " must be 0 or 1; got \u201c" + raw + "\u201d.");
          return;
        }
        options[name] = raw === "1";
      }
    });
    return { options: options, problems: problems };
  }

  function showProblems(problems) {
    if (!problems.length) return;
    var list = document.getElementById("kiosk-config-list");
    problems.forEach(function (message) {
      var item = document.createElement("li");
      item.textContent = message;
      list.append(item);
    });
    document.getElementById("kiosk-config").hidden = false;
  }

  // -- what the screen shows -------------------------------------------------------------------

  function time() {
    var d = new Date();
    return String(d.getHours()).padStart(2, "0") + ":" + String(d.getMinutes()).padStart(2, "0");
  }

  function remember(label) {
    ring.push({ time: time(), label: label });
    if (ring.length > RING_SIZE) ring.shift();
    if (logEl.hidden) return;
    logEl.replaceChildren.apply(logEl, ring.slice(-4).map(function (entry) {
      var item = document.createElement("li");
      item.textContent = entry.time + " " + entry.label;
      return item;
    }));
  }

  function show(state, heading, body, label) {
    root.dataset.state = state;
    title.textContent = heading;
    text.textContent = body;
    since.textContent = label + " since " + time();
    statusEl.textContent = heading + ". " + body;
    remember(label);
  }

  /** What the screen shows for an outcome: a repeat of the same answer changes nothing. */
  function key(outcome) {
    var d = outcome.engagementDetails || {};
    var e = outcome.error || {};
    return [outcome.status, d.engagementId, d.engagementRevision, d.skillName, e.code].join("|");
  }

  function onEngagement(outcome) {
    if (current && key(current) === key(outcome)) return;
    current = outcome;
    if (acceptedTimer) return;          // the accepted screen finishes first, then shows this
    render(outcome);
  }

  function render(outcome) {
    if (outcome.status === "Available") {
      var details = outcome.engagementDetails || {};
      var skill = details.skillName || "our team";
      impression = {
        campaign: Number(details.campaignId),
        engId: Number(details.engagementId),
        revision: details.engagementRevision,
        eContext: [{ type: "engagementContext", id: String(details.contextId) }],
      };
      button.textContent = "Chat with " + skill;     // text only: never HTML from the server
      button.hidden = false;
      show("available", "We\u2019re here to help", "Someone from " + skill +
        " is ready to chat with you now.", "Available");
      ChatApi.report([Object.assign({ type: "impDisplay" }, impression)]);
      return;
    }
    button.hidden = true;
    impression = null;
    if (outcome.status === "NotAvailable") {
      show("unavailable", "No agents right now", "Everyone is busy at the moment. A chat " +
        "button will appear here as soon as someone is free.", "No agents");
      return;
    }
    var error = outcome.error || {};
    if (error.transient) {   // the engine says time cures it (and the runtime restarts itself)
      show("reconnecting", "Reconnecting\u2026", "The chat service is out of reach for the " +
        "moment. This screen keeps trying and recovers by itself.", "Reconnecting");
      return;
    }
    show("stopped", "Chat is unavailable here", "This kiosk needs attention from staff: " +
      (error.message || "unknown problem") + (error.field ? " (" + error.field + ")" : ""),
      "Stopped");
  }

  function accepted() {
    if (!impression) return;
    ChatApi.report([Object.assign({ type: "impAccept" }, impression)]);
    button.hidden = true;
    show("accepted", "Connecting you\u2026", "An agent will be with you in a moment.", "Chat requested");
    clearTimeout(acceptedTimer);
    acceptedTimer = setTimeout(function () {
      acceptedTimer = 0;
      if (current) render(current);
    }, ACCEPTED_MS);
  }

  // -- start -----------------------------------------------------------------------------------

  var read = readOptions(location.search);
  var options = read.options;
  showProblems(read.problems);
  logEl.hidden = !options.log;
  button.addEventListener("click", accepted);

  if (!window.ChatApi || typeof window.ChatApi.watch !== "function") {
    show("stopped", "Chat is unavailable here", "This kiosk needs an engage.js with " +
      "ChatApi.watch(); the one loaded has none.", "Stopped");
    return;
  }

  ChatApi.bind("onEngagement", onEngagement);
  var params = options.sections ? { consumerSections: options.sections } : {};
  Promise.resolve(ChatApi.watch(params, {
    intervalMs: options.interval * 1000,
    expiryMarginMs: options.margin * 1000,
    outageIntervalMs: options.outage * 1000,
  })).then(null, function (err) {
    show("stopped", "Chat is unavailable here", "The availability watch could not start: " +
      (err && err.message ? err.message : String(err)), "Stopped");
  });
})();

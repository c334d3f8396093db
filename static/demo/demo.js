/*
 * demo.js: the engage-web demo page (dist/index.html).
 *
 * Builds the request object from the editor, calls ChatApi.getEngagement, and shows what
 * happens: a timeline of attempts, waits (onRetry, with a countdown) and outcomes; validation
 * errors next to the fields they name (aria-invalid + aria-describedby); the emulator's
 * controls (agents online, injected faults, reset); and, on request, a Python callback through
 * PyScript. The engagement button itself comes from demo/snippets/on_engagement.js, the snippet
 * shown on the page. Every server-provided string is written with textContent, never as HTML.
 * No inline script anywhere: the page runs under script-src 'self'.
 */
(function () {
  "use strict";

  var TIMELINE_MAX = 60;          // a fixed-size history: the page may stay open for hours
  var REASONS = {
    NotAvailable: "no engagement offered yet (the service may need a few checks)",
    network: "the connection failed",
    timeout: "no answer within the attempt timeout",
    malformed: "the answer was not the expected JSON",
    "account-loading": "the LivePerson account is still loading (a cold account)",
  };
  // What each request of onAttempt is, in LivePerson's App Engagement API.
  var STAGES = {
    lookup: "Domain API look-up",
    check: "Create session",
    update: "Update session",
  };

  var script = document.currentScript;
  var form = document.getElementById("request-form");
  var slot = document.getElementById("engagement-slot");
  var statusEl = document.getElementById("status");
  var badge = document.getElementById("outcome-badge");
  var timeline = document.getElementById("timeline");
  var outcomeJson = document.getElementById("outcome-json");
  var preview = document.getElementById("request-preview");
  var formErrors = document.getElementById("form-errors");
  var seed = JSON.parse(document.getElementById("seed-example").textContent);
  var countdown = null;           // {el, endsAt, timer} of the wait being counted down
  var checking = 0;

  // -- small helpers --------------------------------------------------------------------------

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clock() {
    var d = new Date();
    return [d.getHours(), d.getMinutes(), d.getSeconds()].map(function (n) {
      return String(n).padStart(2, "0");
    }).join(":");
  }

  function seconds(ms) { return (ms / 1000).toFixed(1) + " s"; }

  function setStatus(text) { statusEl.textContent = text; }

  function setBadge(kind, text) {
    badge.className = "badge badge--" + kind;
    badge.textContent = text;
  }

  // -- the request editor ---------------------------------------------------------------------

  function inputs() { return Array.prototype.slice.call(form.querySelectorAll("[data-field]")); }

  /** The request object from the editor, in the seed's key order; empty fields are left out. */
  function buildParams() {
    var values = {};
    inputs().forEach(function (input) {
      var value = input.value.trim();
      if (value) values[input.dataset.field] = value;
    });
    var params = {};
    ["appType", "vid", "sid"].forEach(function (key) {
      if (values[key]) params[key] = values[key];
    });
    var appDetails = {};
    inputs().forEach(function (input) {
      var path = input.dataset.field;
      if (path.indexOf("appDetails.") === 0 && values[path]) {
        appDetails[path.slice("appDetails.".length)] = values[path];
      }
    });
    if (Object.keys(appDetails).length) params.appDetails = appDetails;
    if (values.consumerSections) {
      params.consumerSections = values.consumerSections.split(",")
        .map(function (s) { return s.trim(); }).filter(Boolean);
    }
    if (values.engagementAttributes) {
      // Parsed when it is JSON; otherwise sent as the string, so the validator names the problem.
      try { params.engagementAttributes = JSON.parse(values.engagementAttributes); } catch (err) {
        params.engagementAttributes = values.engagementAttributes;
      }
    }
    return params;
  }

  function showPreview() { preview.textContent = JSON.stringify(buildParams(), null, 2); }

  function fieldInput(path) {
    return form.querySelector('[data-field="' + path + '"]');
  }

  /** The editor input an error path belongs to: "appDetails.os" or "engagementAttributes[0].x". */
  function inputForError(path) {
    if (!path) return null;
    var best = null;
    inputs().forEach(function (input) {
      var field = input.dataset.field;
      if (path === field || path.indexOf(field + ".") === 0 || path.indexOf(field + "[") === 0) {
        if (!best || field.length > best.dataset.field.length) best = input;
      }
    });
    return best;
  }

  function errorNode(input) { return document.getElementById("e-" + input.id.slice(2)); }

  function describedBy(input, withError) {
    var ids = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(Boolean)
      .filter(function (id) { return id.indexOf("e-") !== 0; });
    if (withError) ids.push(errorNode(input).id);
    if (ids.length) input.setAttribute("aria-describedby", ids.join(" "));
    else input.removeAttribute("aria-describedby");
  }

  function clearErrors() {
    inputs().forEach(function (input) {
      input.removeAttribute("aria-invalid");
      var node = errorNode(input);
      node.textContent = "";
      node.hidden = true;
      describedBy(input, false);
    });
    formErrors.hidden = true;
    document.getElementById("form-errors-list").replaceChildren();
  }

  /** Put each validation message next to its field; the rest go to the summary above the form. */
  function showErrors(error) {
    var problems = Array.isArray(error.errors) && error.errors.length ? error.errors
      : [{ field: error.field, message: error.message }];
    var list = document.getElementById("form-errors-list");
    var first = null;
    problems.forEach(function (problem) {
      var input = inputForError(problem.field);
      var where = problem.field ? problem.field + ": " : "";
      var item = el("li");
      if (input) {
        var node = errorNode(input);
        var exact = problem.field === input.dataset.field;
        var text = (exact ? "" : where) + problem.message;
        node.textContent = node.textContent ? node.textContent + " " + text : text;
        node.hidden = false;
        input.setAttribute("aria-invalid", "true");
        describedBy(input, true);
        first = first || input;
        var link = el("a", null, where + problem.message);
        link.href = "#" + input.id;
        item.append(link);
      } else {
        item.textContent = where + problem.message;
      }
      list.append(item);
    });
    document.getElementById("form-errors-title").textContent = problems.length === 1
      ? "The request has a problem (HTTP " + error.code + "):"
      : "The request has " + problems.length + " problems (HTTP " + error.code + "):";
    formErrors.hidden = false;
    if (first) first.focus();
  }

  function applyPreset(name) {
    var values = {
      appType: seed.appType,
      "appDetails.os": seed.appDetails.os,
      "appDetails.osVersion": seed.appDetails.osVersion,
      "appDetails.appVersion": seed.appDetails.appVersion,
      "appDetails.deviceFamily": seed.appDetails.deviceFamily,
      "appDetails.ipAddress": seed.appDetails.ipAddress,
      consumerSections: seed.consumerSections.join(", "),
      engagementAttributes: JSON.stringify(seed.engagementAttributes, null, 2),
      vid: seed.vid,
      sid: seed.sid,
    };
    if (name === "sales") values.consumerSections = "Sales";
    if (name === "invalid") values["appDetails.os"] = "mac";
    var os = fieldInput("appDetails.os");
    var invalidOption = os.querySelector("option[data-invalid]");
    if (name === "invalid" && !invalidOption) {
      invalidOption = el("option", null, "mac (not a supported value)");
      invalidOption.value = "mac";
      invalidOption.dataset.invalid = "true";
      os.append(invalidOption);
    }
    Object.keys(values).forEach(function (path) { fieldInput(path).value = values[path]; });
    clearErrors();
    showPreview();
  }

  // -- the timeline ---------------------------------------------------------------------------

  function addEntry(kind, title, detail) {
    var item = el("li");
    item.dataset.kind = kind;
    item.append(el("span", "t-time", clock()), el("strong", "t-title", title));
    if (detail) item.append(el("span", "t-detail", detail));
    timeline.append(item);
    while (timeline.children.length > TIMELINE_MAX) timeline.firstElementChild.remove();
    timeline.scrollTop = timeline.scrollHeight;
    return item;
  }

  function stopCountdown(text) {
    if (!countdown) return;
    clearInterval(countdown.timer);
    countdown.el.textContent = text;
    countdown = null;
  }

  function startCountdown(node, delayMs) {
    stopCountdown("retried");
    countdown = { el: node, endsAt: Date.now() + delayMs, timer: 0 };
    function tick() {
      var left = countdown.endsAt - Date.now();
      if (left <= 0) { stopCountdown("retrying now"); return; }
      node.textContent = "next attempt in " + seconds(left);
    }
    countdown.timer = setInterval(tick, 100);
    tick();
  }

  function reasonText(reason) {
    if (REASONS[reason]) return REASONS[reason];
    var http = /^http-(\d{3})$/.exec(reason || "");
    if (http) return "the service answered HTTP " + http[1];
    return String(reason);
  }

  // -- outcomes --------------------------------------------------------------------------------

  function describe(outcome) {
    if (outcome.status === "Available") {
      var d = outcome.engagementDetails || {};
      return "Available: " + (d.skillName || "an agent") + " can chat now (engagement " +
        d.engagementId + ", valid for " + d.validForSeconds + " s).";
    }
    if (outcome.status === "NotAvailable") return "NotAvailable: no agent can take a chat right now.";
    var e = outcome.error || {};
    return "Error " + e.code + ": " + e.message;
  }

  function showSession(outcome) {
    if (!outcome.visitorId) return;
    document.getElementById("session").hidden = false;
    document.getElementById("session-vid").textContent = outcome.visitorId;
    document.getElementById("session-sid").textContent = outcome.sessionId || "";
    document.getElementById("session-page").textContent = outcome.pageId || "";
    // The seed: vid and sid are "required on second request". Keep the editor in step.
    ["vid", "sid"].forEach(function (name) {
      var value = name === "vid" ? outcome.visitorId : outcome.sessionId;
      var input = fieldInput(name);
      if (value && input.value !== value) input.value = value;
    });
    showPreview();
  }

  function onOutcome(outcome, started) {
    checking = Math.max(0, checking - 1);
    stopCountdown("");
    outcomeJson.textContent = JSON.stringify(outcome, null, 2);
    var took = seconds(performance.now() - started);
    setBadge(outcome.status, outcome.status);
    addEntry(outcome.status, describe(outcome), "after " + took);
    setStatus(describe(outcome));
    if (outcome.status === "Error") {
      var code = outcome.error && outcome.error.code;
      if (code === 400 || code === 401) showErrors(outcome.error);
    }
    showSession(outcome);
  }

  function check(event) {
    if (event) event.preventDefault();
    clearErrors();
    slot.replaceChildren();
    var params = buildParams();
    showPreview();
    checking += 1;
    setBadge("checking", "Checking");
    setStatus("Checking engagement" + (ChatApi.ready ? "..." : " (the engine is still starting)..."));
    addEntry("start", "Check started", summary(params));
    // Single column (narrow screens): the outcome sits below the editor, so bring it into view.
    if (window.matchMedia("(max-width: 700px)").matches) {
      var still = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
      document.getElementById("result-title").scrollIntoView({
        behavior: still ? "auto" : "smooth", block: "start",
      });
    }
    var started = performance.now();
    ChatApi.getEngagement(params).then(function (outcome) { onOutcome(outcome, started); });
  }

  function summary(params) {
    var parts = [];
    if (params.consumerSections) parts.push("sections " + [].concat(params.consumerSections).join(", "));
    if (params.appDetails && params.appDetails.os) parts.push("os " + params.appDetails.os);
    if (params.vid) parts.push("vid " + params.vid);
    return parts.join(" · ");
  }

  ChatApi.bind("onRetry", function (event) {
    var item = addEntry("retry", "Retrying: " + reasonText(event.reason),
      "onRetry {attempt: " + event.attempt + ", delayMs: " + event.delayMs + ", reason: \"" +
      event.reason + "\"}");
    var count = el("span", "t-detail t-count");
    item.append(count);
    startCountdown(count, event.delayMs);
    setStatus("Not settled yet (" + reasonText(event.reason) + "); trying again in " +
      seconds(event.delayMs) + ".");
  });

  // The real request line of each attempt: exactly what LivePerson would receive.
  ChatApi.bind("onAttempt", function (event) {
    var target = event.url;
    try { var url = new URL(event.url); target = url.pathname + url.search; } catch (err) { /* as is */ }
    var item = addEntry("request", (STAGES[event.stage] || event.stage) + ", attempt " +
      event.attempt);
    item.append(el("code", "t-detail t-wire", event.method + " " + target));
  });

  ChatApi.bind("onReady", function (event) {
    var boot = event && event.bootMs ? " in " + seconds(event.bootMs) : "";
    addEntry("ready", "Engine ready" + boot, "Python " + "(Pyodide) in a Web Worker");
    if (!checking) setStatus("Ready. Press Check engagement.");
  });

  slot.addEventListener("impression", function (event) {
    var detail = event.detail;
    var ok = detail.result && detail.result.status === "Reported";
    addEntry(ok ? "report" : "Error", (ok ? "Reported " : "Could not report ") + detail.type,
      ok ? "the update of the session was delivered"
        : (detail.result.error && detail.result.error.message) || "");
    if (detail.type === "impAccept" && ok) {
      var note = el("p", "accepted",
        "Chat requested. In production the chat window opens here; the emulator recorded impAccept.");
      slot.replaceChildren(note);
      setStatus("Chat requested: impAccept reported.");
    }
  });

  // -- emulator controls -----------------------------------------------------------------------

  var emulatorStatus = document.getElementById("emulator-status");

  function control(method, path, body) {
    return fetch("_emulator/" + path, {
      method: method,
      headers: body ? { "Content-Type": "application/json" } : {},
      body: body ? JSON.stringify(body) : undefined,
    }).then(function (response) {
      return response.json().then(function (data) {
        if (!response.ok) throw new Error(data.message || "HTTP " + response.status);
        return data;
      });
    });
  }

  function showFaults(faults) {
    emulatorStatus.textContent = faults.length
      ? "Pending faults: " + faults.map(function (f) {
        var what = f.mode ? f.mode : f.status ? "HTTP " + f.status : "delay " + f.delayMs + " ms";
        return what + " × " + f.count;
      }).join(", ") + "."
      : "Pending faults: none.";
  }

  function controlFailed(err) { emulatorStatus.textContent = "Emulator: " + err.message; }

  function renderSkills(state) {
    var list = document.getElementById("skills");
    var skills = Object.keys(state.skills || {}).map(function (k) { return state.skills[k]; });
    list.replaceChildren();
    skills.forEach(function (skill) {
      var item = el("li", "skill");
      item.dataset.online = String(skill.agentsOnline > 0);
      var id = "agents-" + skill.id;
      var name = el("label", "skill__name", skill.name);
      name.htmlFor = id;
      name.append(el("small", null, "skill " + skill.id));
      var input = el("input");
      input.type = "text";
      input.inputMode = "numeric";
      input.id = id;
      input.value = String(skill.agentsOnline);
      var set = el("button", "btn btn--small", "Set");
      set.type = "button";
      set.addEventListener("click", function () {
        var n = Number(input.value);
        control("POST", "skills/" + skill.id, { agentsOnline: Number.isInteger(n) ? n : input.value })
          .then(function (updated) {
            item.dataset.online = String(updated.agentsOnline > 0);
            emulatorStatus.textContent = skill.name + ": " + updated.agentsOnline + " agent(s) online.";
          }, controlFailed);
      });
      item.append(el("span", "skill__dot"), name, input, set);
      list.append(item);
    });
    showFaults(state.faults || []);
  }

  function loadState() { return control("GET", "state").then(renderSkills, controlFailed); }

  Array.prototype.forEach.call(document.querySelectorAll("[data-fault]"), function (button) {
    button.addEventListener("click", function () {
      control("POST", "faults", JSON.parse(button.dataset.fault)).then(function (data) {
        showFaults(data.pending);
      }, controlFailed);
    });
  });
  document.getElementById("clear-faults").addEventListener("click", function () {
    control("DELETE", "faults").then(function (data) { showFaults(data.pending); }, controlFailed);
  });
  document.getElementById("reset-emulator").addEventListener("click", function () {
    control("POST", "reset").then(function (state) {
      renderSkills(state);
      emulatorStatus.textContent = "Emulator reset: sessions, faults and agents back to the scenario.";
    }, controlFailed);
  });

  // -- the Python callback, on request ---------------------------------------------------------

  var loadPython = document.getElementById("load-python");
  loadPython.addEventListener("click", function () {
    var out = document.getElementById("python-outcome");
    loadPython.disabled = true;
    out.textContent = "Loading PyScript and Pyodide on this page (a few seconds)...";
    // PyScript evaluates strings as code: a page whose CSP forbids 'unsafe-eval' cannot run it.
    document.addEventListener("securitypolicyviolation", function (event) {
      if (event.blockedURI === "eval" || /eval/.test(event.violatedDirective || "")) {
        out.textContent = "PyScript cannot run under this page's Content-Security-Policy " +
          "(it needs 'unsafe-eval'). The widget is unaffected: its Python runs in a worker.";
      }
    }, { once: true });
    var css = el("link");
    css.rel = "stylesheet";
    css.href = "pyscript/core.css";
    document.head.append(css);
    var py = el("script");
    py.type = "py";
    py.src = "demo/snippets/on_engagement.py";
    py.setAttribute("config", script.dataset.pyscriptConfig);
    document.body.append(py);
    var core = el("script");
    core.type = "module";
    core.src = script.dataset.pyscriptCore;
    document.head.append(core);
  });

  // -- wiring ---------------------------------------------------------------------------------

  form.addEventListener("submit", check);
  form.addEventListener("input", showPreview);
  form.addEventListener("change", showPreview);
  document.getElementById("cancel-button").addEventListener("click", function () {
    ChatApi.cancel();
  });
  Array.prototype.forEach.call(document.querySelectorAll("[data-preset]"), function (button) {
    button.addEventListener("click", function () { applyPreset(button.dataset.preset); });
  });

  showPreview();
  loadState();
  if (ChatApi.ready) setStatus("Ready. Press Check engagement.");
})();

// OctoStore admin dashboard. Plain JavaScript, no build step, no
// dependency. The admin token lives in sessionStorage only (this tab) and
// travels in the Authorization header, never in a URL. Every value from the
// server is put in the page as text (textContent), never as HTML.
"use strict";

(function () {
  const KEY = "octostore-admin-token";
  const $ = (id) => document.getElementById(id);
  let token = null;
  let tail = null; // the running event tail: {abort, paused}

  // ---- HTTP ---------------------------------------------------------------

  class APIError extends Error {
    constructor(status, problem) {
      super((problem && (problem.detail || problem.title)) || "HTTP " + status);
      this.status = status;
      this.code = problem && problem.code;
    }
  }

  async function api(method, path, opts) {
    const res = await fetch(path, {
      method: method,
      headers: { Authorization: "Bearer " + ((opts && opts.token) || token), Accept: "application/json" },
      signal: opts && opts.signal,
      cache: "no-store",
      credentials: "omit",
    });
    let body = null;
    const text = await res.text();
    if (text) {
      try { body = JSON.parse(text); } catch (e) { body = null; }
    }
    if (!res.ok) {
      const err = new APIError(res.status, body);
      if (res.status === 401 && !(opts && opts.token)) {
        signOut("The token stopped working (401 unauthenticated). Sign in again.");
      }
      throw err;
    }
    return body;
  }

  const enc = encodeURIComponent;

  // ---- DOM helpers ----------------------------------------------------------

  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (k === "class") e.className = v;
      else if (k === "text") e.textContent = v;
      else e.setAttribute(k, v);
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  function td(value, cls) {
    return el("td", cls ? { class: cls } : {}, value === undefined || value === null ? "" : value);
  }

  function fill(tbody, rows, columns, emptyText) {
    tbody.replaceChildren(...rows);
    if (rows.length === 0) {
      tbody.append(el("tr", {}, el("td", { class: "empty", colspan: String(columns) }, emptyText)));
    }
  }

  function when(iso) {
    if (!iso) return "";
    const d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString(undefined, { hour12: false });
  }

  function say(text) { $("app-status").textContent = text; }

  function failed(what, err) {
    if (err && err.name === "AbortError") return;
    say(what + ": " + (err && err.message ? err.message : String(err)));
  }

  // ---- sign in / out ----------------------------------------------------

  async function signIn(candidate) {
    const out = $("signin-error");
    out.hidden = true;
    if (!candidate) {
      out.textContent = "Enter the admin token.";
      out.hidden = false;
      return;
    }
    try {
      await api("GET", "/admin/api/overview", { token: candidate });
    } catch (err) {
      // A kept token that no longer works (revoked, server reconfigured)
      // is dropped as well.
      sessionStorage.removeItem(KEY);
      token = null;
      let msg = "Sign-in failed: " + err.message;
      if (err.status === 401) msg = "That token is not valid (401 unauthenticated). Nothing was stored.";
      else if (err.status === 403) msg = "That is a user token, not the admin token (403 admin_only). Nothing was stored.";
      out.textContent = msg;
      out.hidden = false;
      $("token").setAttribute("aria-invalid", "true");
      $("token").focus();
      return;
    }
    token = candidate;
    sessionStorage.setItem(KEY, token);
    $("token").value = "";
    $("token").removeAttribute("aria-invalid");
    $("signin").hidden = true;
    $("app").hidden = false;
    $("signout").hidden = false;
    show("overview");
    startTail();
  }

  function signOut(message) {
    token = null;
    sessionStorage.removeItem(KEY);
    stopTail();
    $("app").hidden = true;
    $("signout").hidden = true;
    $("signin").hidden = false;
    const out = $("signin-error");
    out.textContent = message || "";
    out.hidden = !message;
    $("token").focus();
  }

  // ---- tabs -------------------------------------------------------------

  const views = ["overview", "orgs", "locks", "sessions", "webhooks", "quotas", "events"];
  const loaders = {
    overview: loadOverview,
    orgs: loadOrgs,
    locks: () => { if ($("locks-org").value) searchLocks(false); },
    sessions: () => { if ($("sessions-org").value) loadSessions(); },
    webhooks: () => { if ($("webhooks-org").value) loadWebhooks(); },
    quotas: () => { if ($("quotas-org").value) loadQuotas(); },
    events: () => {},
  };

  function show(name) {
    for (const v of views) {
      const on = v === name;
      const tab = $("tab-" + v);
      tab.setAttribute("aria-selected", on ? "true" : "false");
      tab.tabIndex = on ? 0 : -1;
      $("view-" + v).hidden = !on;
    }
    say("");
    loaders[name]();
  }

  function tabKeys(ev) {
    const i = views.indexOf(ev.target.id.replace("tab-", ""));
    let j = -1;
    if (ev.key === "ArrowRight") j = (i + 1) % views.length;
    else if (ev.key === "ArrowLeft") j = (i + views.length - 1) % views.length;
    else if (ev.key === "Home") j = 0;
    else if (ev.key === "End") j = views.length - 1;
    if (j < 0) return;
    ev.preventDefault();
    $("tab-" + views[j]).focus();
    show(views[j]);
  }

  // ---- overview -----------------------------------------------------------

  function setOrgs(names) {
    $("org-list").replaceChildren(...names.map((n) => el("option", { value: n })));
    for (const id of ["locks-org", "sessions-org", "webhooks-org", "quotas-org"]) {
      if (!$(id).value && names.length > 0) $(id).value = names[0];
    }
  }

  // The charts of the status page, fed from the public GET /status.
  let charts = null;
  async function loadCharts() {
    if (!window.OctoChart) return;
    if (!charts) {
      charts = {
        rps: OctoChart.line($("ov-rps"), { label: "requests/s", color: "#1f5fbf", decimals: 2, height: 150 }),
        p99: OctoChart.line($("ov-p99"), { label: "p99 ms", color: "#8a3ab9", fill: "rgba(138, 58, 185, 0.12)", decimals: 1, height: 150 }),
      };
    }
    const res = await fetch("/status", { cache: "no-store", headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error("GET /status: " + res.status);
    const h = OctoChart.history(await res.json());
    charts.rps.update(h.xs, h.rps);
    charts.p99.update(h.xs, h.p99);
  }

  async function loadOverview() {
    try {
      await loadCharts();
      const ov = await api("GET", "/admin/api/overview");
      const rows = ov.orgs.map((o) => el("tr", {},
        el("th", { scope: "row" }, o.org), td(o.locks_held, "num"), td(o.sessions_open, "num"),
        td(o.waiters, "num"), td(o.webhooks, "num"), td(o.watch_streams, "num")));
      fill($("overview-table").tBodies[0], rows, 6, "No org uses anything yet.");
      const t = ov.totals;
      $("overview-table").tFoot.replaceChildren(el("tr", {},
        el("th", { scope: "row" }, "All " + t.orgs + " orgs"), td(t.locks_held, "num"), td(t.sessions_open, "num"),
        td(t.waiters, "num"), td(t.webhooks, "num"), td(t.watch_streams, "num")));
      setOrgs(ov.orgs.map((o) => o.org));
      say("Updated " + new Date().toLocaleTimeString(undefined, { hour12: false }) + ".");
    } catch (err) { failed("Overview", err); }
  }

  // ---- orgs, users, tokens ------------------------------------------------

  async function loadOrgs() {
    try {
      const [orgs, tokens] = await Promise.all([api("GET", "/admin/orgs"), api("GET", "/admin/tokens")]);
      fill($("orgs-table").tBodies[0], orgs.orgs.map((o) => {
        const b = el("button", { type: "button", class: "secondary" }, "Show users");
        b.setAttribute("aria-label", "Show the users of " + o.org);
        b.addEventListener("click", () => loadUsers(o.org));
        return el("tr", {}, el("th", { scope: "row" }, o.org), td(when(o.created_at)), td(o.members, "num"), el("td", {}, b));
      }), 4, "No registered org (orgs of configured tokens need no registration).");
      fill($("tokens-table").tBodies[0], tokens.tokens.map((k) => el("tr", {},
        td(k.id), td(k.admin ? "(admin)" : k.org), td(k.user), td(when(k.created_at)), td(when(k.last_used_at)))),
      5, "No stored token.");
    } catch (err) { failed("Orgs", err); }
  }

  async function loadUsers(org) {
    try {
      const us = await api("GET", "/admin/orgs/" + enc(org) + "/users");
      $("users-caption").textContent = "Users of " + org;
      fill($("users-table").tBodies[0], us.users.map((u) => el("tr", {},
        el("th", { scope: "row" }, u.user), td(u.role), td(when(u.added_at)), td(u.tokens, "num"))), 4, "No user.");
      $("users-table").hidden = false;
    } catch (err) { failed("Users of " + org, err); }
  }

  // ---- locks ----------------------------------------------------------------

  let lockCursor = "";

  async function searchLocks(more) {
    const org = $("locks-org").value.trim();
    const prefix = $("locks-prefix").value.trim();
    if (!org) { say("Locks: enter an org."); $("locks-org").focus(); return; }
    let path = "/admin/api/orgs/" + enc(org) + "/locks?limit=100";
    if (prefix) path += "&prefix=" + enc(prefix);
    if (more && lockCursor) path += "&cursor=" + enc(lockCursor);
    try {
      const page = await api("GET", path);
      const tbody = $("locks-table").tBodies[0];
      const rows = page.locks.map((l) => lockRow(org, l));
      if (more) tbody.append(...rows);
      else fill(tbody, rows, 6, "No lock of " + org + " is held" + (prefix ? " below " + prefix : "") + ".");
      lockCursor = page.next_cursor || "";
      $("locks-more").hidden = !lockCursor;
      say(page.locks.length + " held lock(s) of " + org + (more ? " more" : "") + ".");
    } catch (err) { failed("Locks", err); }
  }

  function lockRow(org, l) {
    let holder = l.holder || "";
    if (l.owner) holder += " (owner " + l.owner + ")";
    if (l.session_id) holder += " (session" + (l.ephemeral ? ", ephemeral" : "") + ")";
    const b = el("button", { type: "button", class: "danger" }, "Force release");
    b.setAttribute("aria-label", "Force-release " + l.name);
    b.dataset.lock = l.name;
    b.addEventListener("click", () => confirmRelease(org, l, b));
    return el("tr", { "data-lock": l.name }, el("th", { scope: "row", class: "wrap" }, l.name), td(holder),
      td(l.fencing_token, "num"), td(when(l.expires_at)), td(l.waiters, "num"), el("td", {}, b));
  }

  function confirmRelease(org, l, button) {
    const dlg = $("confirm");
    $("confirm-text").textContent = "The lease of " + (l.holder || "its holder") + " on " + org + "/" + l.name +
      " (fencing token " + l.fencing_token + ") ends now and its token is never valid again. The next waiter gets the lock.";
    const done = (release) => {
      $("confirm-release").removeEventListener("click", yes);
      $("confirm-cancel").removeEventListener("click", no);
      dlg.removeEventListener("cancel", no);
      dlg.close();
      button.focus();
      if (release) forceRelease(org, l.name, button);
    };
    const yes = () => done(true);
    const no = (ev) => { if (ev) ev.preventDefault(); done(false); };
    $("confirm-release").addEventListener("click", yes);
    $("confirm-cancel").addEventListener("click", no);
    dlg.addEventListener("cancel", no);
    dlg.showModal();
    $("confirm-cancel").focus();
  }

  async function forceRelease(org, name, button) {
    button.disabled = true;
    try {
      const r = await api("POST", "/admin/orgs/" + enc(org) + "/locks/" + enc(name) + "/release");
      say("Released " + org + "/" + name + ": the lease of " + r.holder + " (fencing token " + r.fencing_token + ") ended.");
      const row = button.closest("tr");
      if (row) row.remove();
    } catch (err) {
      button.disabled = false;
      failed("Force release of " + name, err);
    }
  }

  // ---- sessions, webhooks, quotas ----------------------------------------

  async function loadSessions() {
    const org = $("sessions-org").value.trim();
    try {
      const r = await api("GET", "/admin/api/orgs/" + enc(org) + "/sessions");
      fill($("sessions-table").tBodies[0], r.sessions.map((s) => el("tr", {},
        el("th", { scope: "row", class: "wrap" }, s.session_id), td(s.user), td(s.ttl_seconds + " s", "num"),
        td(when(s.expires_at)), td(s.locks.join(", "), "wrap"))), 5, "No open session of " + org + ".");
      say(r.sessions.length + " session(s) of " + org + ".");
    } catch (err) { failed("Sessions", err); }
  }

  async function loadWebhooks() {
    const org = $("webhooks-org").value.trim();
    try {
      const r = await api("GET", "/admin/api/orgs/" + enc(org) + "/webhooks");
      fill($("webhooks-table").tBodies[0], r.webhooks.map((w) => {
        const h = w.health;
        let last = "none yet";
        if (h.last_state) {
          last = h.last_state + (h.last_status ? " (HTTP " + h.last_status + ")" : "") +
            (h.last_error ? ": " + h.last_error : "") + " " + when(h.last_attempt_at);
        }
        return el("tr", {}, el("th", { scope: "row", class: "wrap" }, w.webhook.url), td(w.webhook.events.join(", ")),
          td(h.delivered, "num"), td(h.pending, "num"), td(h.failed, h.failed > 0 ? "num bad" : "num"),
          td(h.behind, "num"), td(last));
      }), 7, "No webhook of " + org + ".");
      say(r.webhooks.length + " webhook(s) of " + org + ".");
    } catch (err) { failed("Webhooks", err); }
  }

  async function loadQuotas() {
    const org = $("quotas-org").value.trim();
    try {
      const q = await api("GET", "/admin/orgs/" + enc(org) + "/quotas");
      const names = [["locks", "Locks"], ["sessions", "Sessions"], ["waiters", "Waiters"], ["webhooks", "Webhooks"], ["watch_streams", "Watch streams"]];
      fill($("quotas-table").tBodies[0], names.map(([k, label]) => {
        const s = q[k];
        return el("tr", {}, el("th", { scope: "row" }, label), td(s.used, s.used >= s.limit ? "num bad" : "num"),
          td(s.limit, "num"), td(s.default ? "server default" : "org override"));
      }), 4, "");
      say("Quotas of " + org + ".");
    } catch (err) { failed("Quotas", err); }
  }

  // ---- live event tail (long poll) -----------------------------------------

  const MAX_EVENTS = 200;

  function eventRow(e) {
    const forced = e.forced_by ? el("span", { class: "badge" }, e.forced_by) : "";
    return el("tr", { class: e.forced_by ? "forced" : "", "data-seq": String(e.seq) },
      td(e.seq, "num"), td(when(e.at)), td(e.org), td(e.type), el("td", { class: "wrap" }, e.name), td(e.holder),
      td(e.fencing_token, "num"), el("td", { class: "forced-by" }, forced));
  }

  function stopTail() {
    if (tail) tail.abort.abort();
    tail = null;
  }

  async function startTail() {
    stopTail();
    const org = $("events-org").value.trim();
    const me = { abort: new AbortController() };
    tail = me;
    const tbody = $("events-table").tBodies[0];
    tbody.replaceChildren();
    $("events-pause").setAttribute("aria-pressed", "false");
    $("events-pause").textContent = "Pause";
    $("events-state").textContent = "Following the events of " + (org || "every org") + "…";
    let after = -1;
    let failures = 0;
    while (tail === me) {
      let path = "/admin/api/events?limit=100&after=" + after + (after < 0 ? "" : "&wait_seconds=25");
      if (org) path += "&org=" + enc(org);
      try {
        const page = await api("GET", path, { signal: me.abort.signal });
        failures = 0;
        if (tail !== me) return;
        for (const e of page.events) tbody.prepend(eventRow(e));
        while (tbody.rows.length > MAX_EVENTS) tbody.deleteRow(tbody.rows.length - 1);
        after = page.next_after;
        tbody.dataset.after = String(after);
      } catch (err) {
        if (tail !== me || (err && err.name === "AbortError")) return;
        failures++;
        $("events-state").textContent = "The event tail failed (" + err.message + "); retrying.";
        if (err.status === 422) return;
        await new Promise((r) => setTimeout(r, Math.min(30000, 1000 * failures)));
      }
    }
  }

  function togglePause() {
    const b = $("events-pause");
    if (tail) {
      stopTail();
      b.setAttribute("aria-pressed", "true");
      b.textContent = "Resume";
      $("events-state").textContent = "Paused.";
    } else {
      startTail();
    }
  }

  // ---- wiring -------------------------------------------------------------

  function onSubmit(id, fn) {
    $(id).addEventListener("submit", (ev) => { ev.preventDefault(); fn(); });
  }

  document.addEventListener("DOMContentLoaded", () => {
    onSubmit("signin-form", () => signIn($("token").value.trim()));
    $("signout").addEventListener("click", () => signOut(""));
    for (const v of views) {
      $("tab-" + v).addEventListener("click", () => show(v));
      $("tab-" + v).addEventListener("keydown", tabKeys);
    }
    $("overview-refresh").addEventListener("click", loadOverview);
    onSubmit("locks-form", () => searchLocks(false));
    $("locks-more").addEventListener("click", () => searchLocks(true));
    onSubmit("sessions-form", loadSessions);
    onSubmit("webhooks-form", loadWebhooks);
    onSubmit("quotas-form", loadQuotas);
    onSubmit("events-form", startTail);
    $("events-pause").addEventListener("click", togglePause);

    const saved = sessionStorage.getItem(KEY);
    if (saved) signIn(saved);
    else $("token").focus();
  });
})();

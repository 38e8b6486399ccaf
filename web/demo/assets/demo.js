/*
 * demo.js: what every demo page shares. A classic script, loaded with `defer`.
 *
 *   demo.root                  the site's root URL (this file is at assets/demo.js)
 *   demo.api(path, options)    JSON from the demo's routes, relative to the root
 *   demo.allPages(items, cursor, route, field)
 *                              a list's first page and the rest, following nextCursor
 *   demo.requireUser()         the signed-in email, or a redirect to the sign-in page
 *   demo.header(active)        the site header with the user menu
 *   demo.panel                 the tracker's live panel on lesson pages (see LivePanel)
 *   demo.json(value)           syntax-highlighted JSON as an HTML string
 */
(() => {
  "use strict";
  const script = document.currentScript;
  const root = new URL("../", script.src);
  const isStatic = document.documentElement.dataset.mode === "static";

  const escape = (text) =>
    String(text).replace(
      /[&<>"']/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c],
    );

  function url(path) {
    return new URL(path, root).href;
  }

  async function api(path, options = {}) {
    const init = { credentials: "same-origin", ...options, headers: { ...(options.headers || {}) } };
    if (options.json !== undefined) {
      init.method = init.method || "POST";
      init.body = JSON.stringify(options.json);
      init.headers["Content-Type"] = "application/json";
      delete init.json;
    }
    const response = await fetch(url(path), init);
    const text = await response.text();
    const body = text ? JSON.parse(text) : null;
    if (!response.ok) {
      const error = new Error(body && body.error ? body.error.message : `HTTP ${response.status}`);
      error.status = response.status;
      error.body = body;
      throw error;
    }
    return body;
  }

  // The demo's lists come a page at a time (docs/api.md): `items` is the first page, `cursor`
  // its nextCursor; the pages of `route` after it are fetched until nextCursor is null.
  async function allPages(items, cursor, route, field) {
    const all = [...items];
    for (let next = cursor; next; ) {
      const page = await api(`${route}?cursor=${encodeURIComponent(next)}`);
      all.push(...page[field]);
      next = page.nextCursor;
    }
    return all;
  }

  // masteredUnits is an increment (lessons NEWLY mastered): a lesson mastered again in a
  // later run must send 0, or the course's progress would count it twice.
  async function masteredBefore(lessonId) {
    const board = await api("demo/api/dashboard?tz=UTC").catch(() => null);
    if (!board) return false;
    const entries = await allPages(
      board.gradebook,
      board.gradebookNextCursor,
      "demo/api/gradebook",
      "gradebook",
    ).catch(() => board.gradebook);
    return entries.some(
      (g) => g.kind === "activity" && g.activityUrl?.endsWith(`/${lessonId}`) && g.masteredUnits > 0,
    );
  }

  async function currentUser() {
    const session = await api("demo/api/session");
    return session.email;
  }

  async function requireUser() {
    const email = await currentUser();
    if (!email) {
      const here = location.href.slice(root.href.length);
      location.replace(url(`signin.html?next=${encodeURIComponent(here)}`));
      return new Promise(() => {}); // the page is going away
    }
    return email;
  }

  const LOGO = `<svg viewBox="0 0 32 32" aria-hidden="true"><rect width="32" height="32" rx="8" fill="#4338ca"/><path d="M16 7a9 9 0 1 0 9 9" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round"/><path d="M16 11v5l3.5 2.5" fill="none" stroke="#c7d2fe" stroke-width="3" stroke-linecap="round" stroke-linejoin="round"/></svg>`;

  function header(active, email) {
    const el = document.querySelector("[data-site-header]");
    if (!el) return;
    const link = (href, label, key) =>
      `<a href="${url(href)}"${active === key ? ' aria-current="page"' : ""}>${label}</a>`;
    const user = email
      ? `<div class="user"><span class="avatar" aria-hidden="true">${escape(email[0].toUpperCase())}</span>
           <span data-user-email>${escape(email)}</span>
           <button class="btn btn--ghost btn--small" type="button" data-sign-out>Sign out</button></div>`
      : "";
    el.innerHTML = `<div class="site-header__inner">
        <a class="brand" href="${url("index.html")}">${LOGO}<span>Demo Academy</span></a>
        <nav class="nav" aria-label="Main">${link("index.html", "Lessons", "catalogue")}${link(
          "dashboard.html",
          "Dashboard",
          "dashboard",
        )}</nav>${user}</div>`;
    if (isStatic) {
      el.insertAdjacentHTML(
        "beforeend",
        `<div class="static-note" role="note">Static preview: no app server. The tracker and the
         server's own code both run in this page; the data stays in this browser.</div>`,
      );
    }
    const out = el.querySelector("[data-sign-out]");
    if (out) {
      out.addEventListener("click", async () => {
        await api("auth/logout", { method: "POST" }).catch(() => {});
        location.href = url("signin.html");
      });
    }
  }

  // ---- formatting ------------------------------------------------------------------
  function duration(ms) {
    const total = Math.max(0, Math.floor(ms / 100)) / 10;
    const minutes = Math.floor(total / 60);
    const seconds = (total - minutes * 60).toFixed(1).padStart(4, "0");
    return `${minutes}:${seconds}`;
  }
  function clock(date = new Date()) {
    return date.toLocaleTimeString("en-GB", { hour12: false });
  }
  function minutes(value) {
    // Rounded half up first: toFixed alone turns 2.55 (2.5499... in binary) into "2.5".
    const n = Number(value || 0);
    return n >= 10 ? String(Math.round(n)) : (Math.round(n * 10) / 10).toFixed(1);
  }

  function json(value) {
    const text = JSON.stringify(value, null, 2);
    return escape(text).replace(
      /(&quot;(?:[^&]|&(?!quot;))*?&quot;)(\s*:)?|\b(true|false|null)\b|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)/g,
      (match, string, colon, literal, number) => {
        if (string) return colon ? `<span class="k">${string}</span>${colon}` : `<span class="s">${string}</span>`;
        if (literal) return `<span class="b">${literal}</span>`;
        return `<span class="n">${number}</span>`;
      },
    );
  }

  // ---- the tracker's live panel --------------------------------------------------------
  /*
   * <aside data-live-panel> on a lesson page. attach(source) with
   *   source.read() -> {paused, ended, elapsedMs, totalActiveMs, runId}
   *   source.pause(), source.resume(), source.flush()   (optional)
   * flush(ms) from onFlush, error(message, context) from onError.
   */
  class LivePanel {
    constructor(el) {
      this.el = el;
      this.source = null;
      this.flushes = [];
      this.errors = [];
      this.note = "Starting the tracker…";
      el.innerHTML = `<div class="card">
        <div class="panel__state"><h2 class="h3 panel__title">Tracker</h2>
          <span class="badge" data-state role="status" aria-live="polite"><span class="dot"></span><span>starting</span></span></div>
        <div class="meters">
          <div class="meter"><div class="meter__label">This window</div><div class="meter__value" data-elapsed>0:00.0</div></div>
          <div class="meter"><div class="meter__label">Total active</div><div class="meter__value" data-total>0:00.0</div></div>
        </div>
        <dl><dt>Run</dt><dd data-run title="">—</dd><dt>Tab</dt><dd data-visibility>visible</dd></dl>
        <div class="panel__actions">
          <button class="btn btn--ghost btn--small" type="button" data-toggle disabled>Pause</button>
          <button class="btn btn--ghost btn--small" type="button" data-flush disabled>Flush now</button>
        </div>
        <h3>Last flushes <span class="sr-only">(onFlush)</span></h3>
        <ul class="log" data-flushes><li class="muted">none yet</li></ul>
        <h3>Errors <span class="sr-only">(onError)</span></h3>
        <ul class="log log--errors" data-errors><li class="muted">none</li></ul>
        <p class="small muted panel__note" data-note>${this.note}</p>
      </div>`;
      this.$ = (name) => el.querySelector(`[data-${name}]`);
      this.$("toggle").addEventListener("click", () => {
        if (!this.source) return;
        const state = this.source.read();
        if (state.paused) this.source.resume && this.source.resume();
        else this.source.pause && this.source.pause();
        this.render();
      });
      this.$("flush").addEventListener("click", () => this.source && this.source.flush && this.source.flush());
      this.timer = setInterval(() => this.render(), 250);
      this.render();
    }

    attach(source) {
      this.source = source;
      this.$("toggle").disabled = !source.pause;
      this.$("flush").disabled = !source.flush;
      this.setNote("Heartbeats every 15 s, on tab hide, on pause and when you leave.");
      this.render();
    }

    setNote(text) {
      this.note = text;
      this.$("note").textContent = text;
    }

    flush(ms) {
      this.flushes.unshift({ at: new Date(), ms: Number(ms) });
      this.flushes.length = Math.min(this.flushes.length, 4);
      this.$("flushes").innerHTML = this.flushes
        .map((f) => `<li><span class="t">${clock(f.at)}</span><span>+${duration(f.ms)} active</span></li>`)
        .join("");
    }

    error(message, context) {
      const kind = context && context.type ? `${context.type}: ` : "";
      this.errors.unshift({ at: new Date(), text: `${kind}${message}` });
      this.errors.length = Math.min(this.errors.length, 4);
      this.$("errors").innerHTML = this.errors
        .map((e) => `<li><span class="t">${clock(e.at)}</span> ${escape(e.text)}</li>`)
        .join("");
    }

    state() {
      if (!this.source) return { label: "starting", tone: "" };
      const s = this.source.read();
      if (s.ended) return { label: "ended", tone: "badge--accent", s };
      if (document.visibilityState === "hidden") return { label: "hidden", tone: "", s };
      if (s.paused) return { label: "paused", tone: "badge--warn", s };
      return { label: "running", tone: "badge--ok", s };
    }

    render() {
      let current;
      try {
        current = this.state();
      } catch (error) {
        return; // the page is unloading, or Python is not there any more
      }
      const badge = this.$("state");
      if (this.el.dataset.state !== current.label) {
        // Only on a change: the badge is a live region, announced when its text changes.
        badge.className = `badge ${current.tone}`;
        badge.lastElementChild.textContent = current.label;
      }
      this.el.dataset.state = current.label;
      this.$("visibility").textContent = document.visibilityState;
      const s = current.s;
      if (!s) return;
      this.$("elapsed").textContent = duration(s.elapsedMs);
      this.$("total").textContent = duration(s.totalActiveMs);
      this.el.dataset.elapsedMs = String(Math.round(s.elapsedMs));
      this.el.dataset.totalActiveMs = String(Math.round(s.totalActiveMs));
      const run = this.$("run");
      if (s.runId && run.title !== s.runId) {
        run.title = s.runId;
        run.textContent = s.runId;
      }
      const toggle = this.$("toggle");
      toggle.textContent = s.paused && document.visibilityState !== "hidden" ? "Resume" : "Pause";
      toggle.disabled = !this.source.pause || s.ended;
      this.$("flush").disabled = !this.source.flush || s.ended || s.paused;
    }
  }

  // A JavaScript activity (timeback.js) as a panel source.
  function jsSource(activity) {
    return {
      read: () => ({
        paused: activity.isPaused,
        ended: activity.isEnded,
        elapsedMs: activity.elapsedMs,
        totalActiveMs: activity.totalActiveMs,
        runId: activity.runId,
      }),
      pause: () => activity.pause(),
      resume: () => activity.resume(),
      flush: () => activity.flushTimeSpent(),
    };
  }

  // Progress bars are drawn as <div role="progressbar" aria-valuenow=N><span></span></div>;
  // their width is set here through the CSSOM, which the demo's CSP (no 'unsafe-inline'
  // styles) allows where an inline style attribute would be refused.
  function fillBars(scope) {
    for (const bar of scope.querySelectorAll('[role="progressbar"][aria-valuenow]')) {
      const fill = bar.querySelector(":scope > span");
      const pct = Math.max(0, Math.min(100, Number(bar.getAttribute("aria-valuenow")) || 0));
      if (fill && fill.style.width !== `${pct}%`) fill.style.width = `${pct}%`;
    }
  }
  new MutationObserver(() => fillBars(document)).observe(document.documentElement, {
    childList: true,
    subtree: true,
    attributes: true,
    attributeFilter: ["aria-valuenow"],
  });

  const panelEl = document.querySelector("[data-live-panel]");
  const panel = panelEl ? new LivePanel(panelEl) : null;

  window.demo = Object.freeze({
    root: root.href,
    isStatic,
    url,
    api,
    allPages,
    currentUser,
    requireUser,
    masteredBefore,
    header,
    panel,
    jsSource,
    escape,
    duration,
    clock,
    minutes,
    json,
  });
})();

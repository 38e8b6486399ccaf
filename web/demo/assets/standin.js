/*
 * standin.js: the app server's stand-in for the static build of the demo (tracker demo
 * --static). Loaded before timeback.js on every page; never used by the server demo.
 *
 * It wraps window.fetch and navigator.sendBeacon. Requests to the demo's server routes
 * (api/timeback/..., auth/..., demo/api/... below the site root) are answered here, in the
 * browser; everything else (the bundle, the pages) goes to the network as usual. Each
 * payload that the tracker sends is kept in localStorage, so a beacon sent while a page
 * closes shows on the next page, and the inspector at the bottom of every page lists them.
 *
 * What it answers, as the real server would (wire protocol §1):
 *   heartbeat  204, or 200 {"duplicate": true} for a window already received (runId+startedAt)
 *   submit     204 (a retry with the same runId+endedAt is the same attempt)
 *   401 when nobody is signed in
 * The dashboard's numbers are computed here from what was received (no XP cap).
 */
(() => {
  "use strict";
  const root = new URL("../", document.currentScript.src); // this file is assets/standin.js
  const KEY = "demo.static.";
  const pageLoad = Math.random().toString(36).slice(2, 10);
  const page = location.pathname.startsWith(root.pathname)
    ? location.pathname.slice(root.pathname.length) || "index.html"
    : location.pathname;

  function load(name, fallback) {
    try {
      const text = localStorage.getItem(KEY + name);
      return text ? JSON.parse(text) : fallback;
    } catch {
      return fallback;
    }
  }
  function save(name, value) {
    try {
      localStorage.setItem(KEY + name, JSON.stringify(value));
    } catch {
      /* full or disabled: the demo goes on without a record */
    }
  }

  // ---- requests: which ones are ours ---------------------------------------------------
  function routeOf(url) {
    if (url.origin !== root.origin || !url.pathname.startsWith(root.pathname)) return null;
    const rest = url.pathname.slice(root.pathname.length);
    return /^(api\/timeback|auth|demo\/api)\//.test(rest) ? rest : null;
  }

  // Beacons carry a Blob, which cannot be read synchronously, and a page that is closing
  // gives no time for an async read. Blobs made from strings remember their text.
  const NativeBlob = window.Blob;
  class TextBlob extends NativeBlob {
    constructor(parts, options) {
      super(parts, options);
      this.demoText =
        Array.isArray(parts) && parts.every((part) => typeof part === "string") ? parts.join("") : null;
    }
  }
  window.Blob = TextBlob;

  const nativeFetch = window.fetch.bind(window);
  window.fetch = function fetch(input, init = {}) {
    const raw = input instanceof Request ? input.url : String(input);
    const url = new URL(raw, location.href);
    const route = routeOf(url);
    if (route === null) return nativeFetch(input, init);
    const method = String(init.method || (input instanceof Request ? input.method : "GET")).toUpperCase();
    const body = typeof init.body === "string" ? init.body : null;
    const transport = init.keepalive ? "keepalive" : "fetch";
    return Promise.resolve()
      .then(() => handle({ route, method, body, transport, query: url.searchParams }))
      .then(
        ({ status, json }) =>
          new Response(status === 204 ? null : JSON.stringify(json), {
            status,
            headers: { "Content-Type": "application/json" },
          }),
      );
  };

  const nativeBeacon = navigator.sendBeacon ? navigator.sendBeacon.bind(navigator) : null;
  navigator.sendBeacon = function sendBeacon(target, data) {
    const url = new URL(String(target), location.href);
    const route = routeOf(url);
    if (route === null) return nativeBeacon ? nativeBeacon(target, data) : false;
    const body = typeof data === "string" ? data : data && typeof data.demoText === "string" ? data.demoText : null;
    apiRoute({ route, method: "POST", body, transport: "beacon" }); // synchronous: the page may be closing
    return true; // queued, as far as the page can tell
  };

  // ---- the routes ----------------------------------------------------------------------
  const reply = (status, json = null) => ({ status, json });
  const error = (status, code, message) => reply(status, { error: { code, message, details: {} } });
  const email = () => load("session", null);

  function handle(request) {
    if (request.route.startsWith("api/timeback/")) return apiRoute(request);
    if (request.route.startsWith("auth/")) return authRoute(request);
    return demoRoute(request);
  }

  function parse(body) {
    try {
      return JSON.parse(body);
    } catch {
      return null;
    }
  }

  function record(entry) {
    const inbox = load("inbox", []);
    const seq = load("seq", 0) + 1;
    save("seq", seq);
    inbox.push({ seq, at: new Date().toISOString(), page, pageLoad, ...entry });
    while (inbox.length > 300) inbox.shift();
    save("inbox", inbox);
    document.dispatchEvent(new CustomEvent("standin:received"));
  }

  function apiRoute({ route, method, body, transport }) {
    const path = route.slice("api/timeback".length);
    const user = email();
    const payload = parse(body);
    let answer;
    if (!user) answer = error(401, "UNAUTHORIZED", "sign in first: no user for this request");
    else if (method === "GET" && path === "/user/verify") answer = reply(200, { verified: true, email: user });
    else if (method === "GET" && path === "/user/me") answer = reply(200, { email: user });
    else if (method !== "POST") answer = error(405, "METHOD_NOT_ALLOWED", `${method} is not allowed here`);
    else if (!payload || typeof payload !== "object") answer = error(400, "INVALID_PAYLOAD", "body: not a JSON object");
    else if (path === "/activity/heartbeat") answer = heartbeat(user, payload);
    else if (path === "/activity/submit") answer = submit(user, payload);
    else answer = error(404, "NOT_FOUND", `no route ${route}`);
    if (path.startsWith("/activity/")) {
      record({ transport, method, route: path, body: payload ?? body, status: answer.status, answer: answer.json });
    }
    return answer;
  }

  function heartbeat(user, w) {
    const windows = load("windows", []);
    const key = `${user}|${w.runId}|${w.startedAt}`;
    if (windows.includes(key)) return reply(200, { duplicate: true });
    windows.push(key);
    save("windows", windows);
    const ledger = load("ledger", []);
    ledger.push({ email: user, id: w.id, name: w.name, course: w.course, runId: w.runId, endedAt: w.endedAt, activeMs: w.elapsedMs });
    save("ledger", ledger);
    return reply(204);
  }

  function submit(user, s) {
    const completions = load("completions", []);
    if (!completions.some((c) => c.email === user && c.runId === s.runId && c.endedAt === s.endedAt)) {
      const m = s.metrics || {};
      completions.push({ email: user, id: s.id, name: s.name, course: s.course, runId: s.runId, endedAt: s.endedAt, ...m, pctComplete: s.pctComplete ?? null });
      save("completions", completions);
    }
    return reply(204);
  }

  function authRoute({ route, body }) {
    if (route === "auth/login") {
      const data = parse(body);
      const value = data && typeof data.email === "string" ? data.email.trim().toLowerCase() : "";
      if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value)) return error(400, "INVALID_PAYLOAD", "email: not an email address");
      save("session", value);
      return reply(200, { email: value });
    }
    if (route === "auth/logout") {
      save("session", null);
      return reply(204);
    }
    return error(404, "NOT_FOUND", `no route ${route}`);
  }

  // ---- demo routes: session, dashboard, feed, stateful runs --------------------------------
  let files = null;
  function siteFiles() {
    const json = (path) => nativeFetch(new URL(path, root)).then((r) => r.json());
    files = files || Promise.all([json("timeback.config.json"), json("lessons.json")]);
    return files;
  }

  async function demoRoute({ route, method, body, query }) {
    const user = email();
    if (route === "demo/api/session") return reply(200, { email: user });
    if (!user) return error(401, "UNAUTHORIZED", "sign in first");
    if (route === "demo/api/dashboard") return reply(200, await dashboard(user, query.get("tz") || "UTC"));
    if (route === "demo/api/events") return reply(200, events(Number(query.get("after") || 0)));
    if (route === "demo/api/runs") {
      const mine = Object.entries(load("runs", {})).filter(([key]) => key.startsWith(`${user}|`));
      return reply(200, { runs: Object.fromEntries(mine.map(([, run]) => [run.lessonId, { ...run, parts: run.parts || 3 }])) });
    }
    const match = /^demo\/api\/lessons\/([^/]+)\/(run|run\/restart|complete)$/.exec(route);
    if (!match) return error(404, "NOT_FOUND", `no route ${route}`);
    const [, lessonId, action] = match;
    const [, { lessons }] = await siteFiles();
    const lesson = lessons.find((l) => l.id === lessonId && l.stateful);
    if (!lesson) return error(404, "NOT_FOUND", `no stateful lesson ${lessonId}`);
    const story = await nativeFetch(new URL(lesson.content, root)).then((r) => r.json());
    const runs = load("runs", {});
    const key = `${user}|${lessonId}`;
    const parts = story.parts.length;
    const out = (run) => reply(200, { ...run, parts });
    if (runs[key]) runs[key].parts = parts;
    if (action === "run/restart") {
      delete runs[key];
      save("runs", runs);
      return reply(204);
    }
    if (action === "run" && method === "GET") {
      runs[key] = runs[key] || { lessonId, runId: crypto.randomUUID ? crypto.randomUUID() : uuid4(), step: 0, answers: {}, visits: 0, completed: false, result: null };
      runs[key].visits += 1;
      save("runs", runs);
      return out(runs[key]);
    }
    const run = runs[key];
    if (!run) return error(409, "NOT_STARTED", "this lesson has no run to complete");
    if (action === "run") {
      const data = parse(body) || {};
      if (!run.completed) Object.assign(run, { step: data.step, answers: data.answers });
      save("runs", runs);
      return out(run);
    }
    if (run.completed) return out(run);
    if (run.step < parts) return error(409, "NOT_FINISHED", `part ${run.step + 1} of ${parts} is not done yet`);
    let total = 0, correct = 0;
    story.parts.forEach((part, p) =>
      part.questions.forEach((q, i) => {
        total += 1;
        correct += run.answers[`${p}.${i}`] === q.answer ? 1 : 0;
      }),
    );
    const activeMs = load("ledger", []).filter((w) => w.email === user && w.runId === run.runId).reduce((a, w) => a + w.activeMs, 0);
    const xp = correct / total < 0.8 ? 0 : Math.max(1, Math.round(activeMs / 60000));
    const mastered = correct / total >= 0.9 ? 1 : 0;
    const params = {
      user: { email: user },
      activity: { id: lesson.id, name: lesson.name, course: lesson.course },
      metrics: { xpEarned: xp, totalQuestions: total, correctQuestions: correct, masteredUnits: mastered },
      runId: run.runId,
    };
    const endedAt = new Date().toISOString();
    submit(user, { id: lesson.id, name: lesson.name, course: lesson.course, runId: run.runId, endedAt, metrics: params.metrics });
    record({ transport: "server", method: "CALL", route: "activity.record()", body: params, status: 200, answer: null });
    const attempt = load("completions", []).filter((c) => c.email === user && c.id === lesson.id).length;
    run.completed = true;
    run.result = { attempt, xpEarned: xp, xpCredited: xp, correctQuestions: correct, totalQuestions: total, masteredUnits: mastered, activeMinutes: Math.floor(activeMs / 600) / 100 };
    save("runs", runs);
    return out(run);
  }

  function uuid4() {
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function events(after) {
    const inbox = load("inbox", []);
    const user = email();
    const items = inbox
      .filter((e) => e.seq > after)
      .map((e) => ({
        seq: e.seq,
        type: e.route === "activity.record()" ? "activity.record()" : `${e.route.replace("/activity/", "")} · ${e.transport}`,
        eventTime: e.at,
        event: e.body,
      }));
    void user;
    return { last: inbox.length ? Math.max(after, inbox[inbox.length - 1].seq) : after, events: items.slice(-50) };
  }

  async function dashboard(user, tz) {
    const [config] = await siteFiles();
    let day;
    try {
      day = new Intl.DateTimeFormat("en-CA", { timeZone: tz, year: "numeric", month: "2-digit", day: "2-digit" });
    } catch {
      day = new Intl.DateTimeFormat("en-CA", { timeZone: "UTC", year: "numeric", month: "2-digit", day: "2-digit" });
      tz = "UTC";
    }
    const dateOf = (iso) => day.format(new Date(iso));
    const today = dateOf(new Date().toISOString());
    const ledger = load("ledger", []).filter((w) => w.email === user);
    const completions = load("completions", []).filter((c) => c.email === user);
    const courseOf = (selector) =>
      config.courses.find((c) =>
        "code" in selector ? c.courseCode === selector.code : c.subject === selector.subject && c.grade === selector.grade,
      );
    const keyOf = (course) => (course ? course.courseCode || `${course.subject} G${course.grade}` : "?");
    const round = (n) => Math.round(n * 100) / 100;
    const minutes = (ms) => round(ms / 60000);

    const days = [];
    for (let i = 6; i >= 0; i--) {
      const date = dateOf(new Date(Date.now() - i * 86400000).toISOString());
      days.push({
        date,
        activeMinutes: minutes(ledger.filter((w) => dateOf(w.endedAt) === date).reduce((a, w) => a + w.activeMs, 0)),
        xp: completions.filter((c) => dateOf(c.endedAt) === date).reduce((a, c) => a + (c.xpEarned || 0), 0),
      });
    }
    const byActivity = new Map();
    for (const w of ledger) {
      const row = byActivity.get(w.id) || { activityUrl: `static/${w.id}`, name: w.name, course: keyOf(courseOf(w.course)), activeMs: 0, runs: new Set(), windows: 0 };
      row.activeMs += w.activeMs;
      row.runs.add(w.runId);
      row.windows += 1;
      byActivity.set(w.id, row);
    }
    const activities = [...byActivity.values()]
      .sort((a, b) => b.activeMs - a.activeMs)
      .map((r) => ({ ...r, runs: r.runs.size, activeMinutes: minutes(r.activeMs) }));

    const attempts = new Map();
    const mastered = new Map();
    const pct = new Map();
    const gradebook = completions.map((c) => {
      const course = courseOf(c.course);
      const key = keyOf(course);
      attempts.set(c.id, (attempts.get(c.id) || 0) + 1);
      mastered.set(key, (mastered.get(key) || 0) + (c.masteredUnits || 0));
      const total = course && course.metadata && course.metadata.metrics ? course.metadata.metrics.totalLessons : null;
      let p = c.pctComplete;
      if (p == null && c.masteredUnits && total) p = Math.max(0, Math.min(100, Math.round((100 * mastered.get(key)) / total)));
      if (p != null) pct.set(key, p);
      return {
        kind: "activity", activityUrl: `static/${c.id}`, name: c.name, course: key, runId: c.runId,
        endedAt: c.endedAt, recordedAt: c.endedAt, attempt: attempts.get(c.id),
        totalQuestions: c.totalQuestions ?? null, correctQuestions: c.correctQuestions ?? null,
        score: c.totalQuestions ? round((100 * c.correctQuestions) / c.totalQuestions) : null,
        masteredUnits: c.masteredUnits ?? null, pctComplete: p ?? null, xpClaimed: c.xpEarned, xpCredited: c.xpEarned,
      };
    });
    gradebook.reverse();
    const sum = (list, f) => round(list.reduce((a, x) => a + f(x), 0));
    const courses = config.courses.map((course) => {
      const key = keyOf(course);
      const mine = (list) => list.filter((x) => keyOf(courseOf(x.course)) === key);
      const goals = (course.metadata && course.metadata.goals) || {};
      const p = pct.has(key) ? pct.get(key) : null;
      return {
        name: key, subject: course.subject, grade: course.grade ?? null, code: course.courseCode ?? null,
        pctComplete: p, masteredUnits: mastered.get(key) || 0,
        totalLessons: course.metadata && course.metadata.metrics ? course.metadata.metrics.totalLessons : null,
        completed: p != null && p >= 100,
        xp: { today: sum(mine(completions).filter((c) => dateOf(c.endedAt) === today), (c) => c.xpEarned || 0), allTime: sum(mine(completions), (c) => c.xpEarned || 0) },
        activeMinutes: { today: minutes(sum(mine(ledger).filter((w) => dateOf(w.endedAt) === today), (w) => w.activeMs)), allTime: minutes(sum(mine(ledger), (w) => w.activeMs)) },
        goals: { dailyXp: goals.dailyXp ?? null, dailyActiveMinutes: goals.dailyActiveMinutes ?? null },
      };
    });
    return {
      email: user,
      timeZone: tz,
      xp: { today: sum(courses, (c) => c.xp.today), allTime: sum(courses, (c) => c.xp.allTime) },
      activeMinutes: { today: sum(courses, (c) => c.activeMinutes.today), allTime: sum(courses, (c) => c.activeMinutes.allTime) },
      courses, days, activities, gradebook,
    };
  }

  // ---- the inspector ---------------------------------------------------------------------
  const escape = (text) =>
    String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

  function describe(entry) {
    const b = entry.body || {};
    if (entry.route === "/activity/heartbeat") {
      const paused = b.pausedMs ? ` · paused ${(b.pausedMs / 1000).toFixed(1)} s` : "";
      return `${escape(b.name || b.id || "")} · active ${((b.elapsedMs || 0) / 1000).toFixed(1)} s${paused}`;
    }
    if (entry.route === "/activity/submit") {
      const m = b.metrics || {};
      const score = m.totalQuestions != null ? ` · ${m.correctQuestions}/${m.totalQuestions}` : "";
      return `${escape(b.name || b.id || "")} · ${m.xpEarned} XP${score}`;
    }
    if (entry.route === "activity.record()") {
      const m = b.metrics || {};
      return `${escape((b.activity && b.activity.name) || "")} · ${m.xpEarned} XP · ${m.correctQuestions}/${m.totalQuestions}`;
    }
    return escape(entry.route);
  }

  function mountInspector() {
    const main = document.querySelector("main") || document.body;
    const section = document.createElement("section");
    section.className = "card card--flush";
    section.style.marginTop = "24px";
    section.setAttribute("aria-labelledby", "inspector-title");
    section.dataset.inspector = "";
    section.innerHTML = `<div class="card__head card__head--padded">
        <h2 id="inspector-title">What the server would receive</h2>
        <button class="btn btn--ghost btn--small" type="button" data-inspector-clear>Clear</button></div>
      <p class="small muted pad-x-5">This static preview has no server: a stand-in in
        the page answers the tracker and keeps every payload here, newest first. A beacon sent as a
        page closes shows up on the next page.</p>
      <ul class="feed" data-inspector-list aria-live="polite"></ul>`;
    main.appendChild(section);
    const list = section.querySelector("[data-inspector-list]");
    let shown = 0;
    function render() {
      const inbox = load("inbox", []);
      if (inbox.length === shown && shown) return;
      const fresh = inbox.length - shown;
      shown = inbox.length;
      if (!inbox.length) {
        list.innerHTML = `<li class="empty">Nothing sent yet.</li>`;
        return;
      }
      list.innerHTML = inbox
        .slice()
        .reverse()
        .map((e, i) => {
          const tone = e.transport === "beacon" ? "badge--warn" : e.transport === "server" ? "badge--ok" : "badge--accent";
          const earlier = e.pageLoad !== pageLoad ? `<span class="badge" title="sent by ${escape(e.page)}">from ${escape(e.page)}</span>` : "";
          const status = e.status === 204 ? "204" : `${e.status}${e.answer ? " " + escape(JSON.stringify(e.answer)) : ""}`;
          return `<li class="${i < fresh && shown !== fresh ? "is-new" : ""}" data-transport="${e.transport}" data-route="${escape(e.route)}" data-status="${e.status}">
            <details><summary><span class="badge ${tone}">${escape(e.transport)}</span>
              <span class="summary"><code>${escape(e.route)}</code> → ${status} · ${describe(e)} ${earlier}</span>
              <span class="t">${new Date(e.at).toLocaleTimeString("en-GB")}</span></summary>
              <pre class="json">${escape(JSON.stringify(e.body, null, 2))}</pre></details></li>`;
        })
        .join("");
    }
    section.querySelector("[data-inspector-clear]").addEventListener("click", () => {
      save("inbox", []);
      shown = -1;
      render();
    });
    document.addEventListener("standin:received", render);
    addEventListener("storage", (event) => event.key === KEY + "inbox" && render());
    render();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", mountInspector);
  else mountInspector();
})();

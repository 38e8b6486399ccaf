/*
 * timeback.js: the one-tag embed of the tracker.
 *
 *   <script src="/timeback/timeback.js" data-base="/api/timeback"
 *           data-config="/timeback.config.json"></script>
 *
 * A classic script (no build step, no bundler): it boots Pyodide from the folder it was
 * loaded from, loads the `tracker` wheel and hands over to the Python bridge
 * (tracker.browser.bridge). Until Python is ready it queues the page's calls with their
 * performance.now() time and replays them in order (time model B1), so
 * `timeback.activity.start()` works from the first line of the page.
 *
 * window.timeback = {
 *   ready:    Promise<void>, resolves once Python runs and queued calls were replayed;
 *             rejects (and logs) when the runtime cannot start
 *   activity: { start(params) -> Activity, get current() -> Activity | null },
 *   pyodide:  Promise<PyodideAPI>, for diagnostics and tests (not part of the API)
 * }
 *
 * performance marks: timeback:script-start, timeback:runtime-loaded (loadPyodide resolved:
 * runtime up and wheels installed, they download while the runtime boots),
 * timeback:packages-loaded (tracker, hence pydantic, imported), timeback:ready.
 *
 * A boot failure never throws into the lesson page: it is logged, `ready` rejects,
 * promises of queued calls reject and each queued activity's onError is called.
 */
(() => {
  "use strict";
  const MARK = "timeback:";
  performance.mark(MARK + "script-start");

  if (window.timeback) {
    console.warn("timeback: timeback.js is included twice; the second copy does nothing");
    return;
  }

  // ---- where things are: everything is relative to this script's own URL -------------
  const script =
    document.currentScript || document.querySelector('script[src*="timeback.js"]');
  const scriptUrl = new URL(script ? script.src : "timeback.js", location.href);
  const bundleUrl = new URL("./", scriptUrl).href;
  // The runtime, the lock and the wheels sit in a folder named after their content, so
  // servers may cache them as immutable; tracker build writes the folder's name here.
  const RUNTIME_DIR = "";
  const runtimeUrl = new URL(RUNTIME_DIR, bundleUrl).href;
  const attribute = (name) => (script ? script.getAttribute(name) : null);
  const configAttr = attribute("data-config");
  const options = {
    base: new URL(attribute("data-base") || "/api/timeback", location.href).href,
    configUrl: configAttr ? new URL(configAttr, location.href).href : null,
  };

  // ---- state ------------------------------------------------------------------------
  const BOOTING = "booting";
  const READY = "ready";
  const FAILED = "failed";
  const state = {
    phase: BOOTING,
    error: null, // the boot error once FAILED
    bridge: null, // Python Bridge
    glue: null, // call / call_async / take_error of tracker.browser.bridge
    queue: [], // calls made while booting, replayed in order
    current: null, // the activity started while booting (the JS side knows it)
    byRunId: new Map(), // runId -> facade, so `current` returns the object start() gave
  };

  // Visibility changes since this script ran: the estimate of active time while booting.
  const initiallyHidden = document.visibilityState === "hidden";
  const visibilityLog = [];
  const onVisibility = (event) =>
    visibilityLog.push({ t: event.timeStamp, hidden: document.visibilityState === "hidden" });
  document.addEventListener("visibilitychange", onVisibility);

  function uuid4() {
    if (typeof crypto.randomUUID === "function") return crypto.randomUUID();
    // crypto.randomUUID exists only in secure contexts; a lesson page may be plain http.
    const b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function namedError(name, message) {
    const error = new Error(message);
    error.name = name;
    return error;
  }

  // A Python method call; throws the JS Error that the bridge made of a Python exception.
  function pyCall(target, name, at, ...args) {
    try {
      return state.glue.call(target, name, at, ...args);
    } catch (error) {
      throw state.glue.take_error() ?? error;
    }
  }

  // An awaitable Python method; the promise rejects with the JS Error made by the bridge.
  async function pyCallAsync(target, name, at, ...args) {
    const error = await state.glue.call_async(target, name, at, ...args);
    if (error) throw error;
  }

  function safely(callback, ...args) {
    try {
      callback(...args);
    } catch (error) {
      console.error("timeback: a callback threw", error);
    }
  }

  // ---- the activity object the page holds --------------------------------------------
  class Activity {
    #params;
    #calledAt;
    #py = null; // Python JsActivity once started in Python; a frozen snapshot once ended
    #released = false; // ended: the Python object was let go (a page may run many lessons)
    #failed = null; // the error that keeps this activity from ever running
    #paused = false; // while booting
    #pauseLog = []; // while booting: [{t, paused}]

    constructor(params, calledAt) {
      this.#params = params;
      this.#calledAt = calledAt;
    }

    get id() {
      return this.#py ? this.#py.id : this.#params.id;
    }
    get runId() {
      return this.#py ? this.#py.run_id : this.#params.runId;
    }
    get startedAt() {
      // T3: wall time of a monotonic instant is timeOrigin + t, each rounded to whole ms
      // halves up, as Python's timefmt.whole_ms does, so the date does not move when Python
      // takes over.
      return new Date(
        this.#py
          ? this.#py.started_at_ms
          : Math.round(performance.timeOrigin) + Math.round(this.#calledAt),
      );
    }
    get isPaused() {
      return this.#py ? Boolean(this.#py.is_paused) : this.#paused;
    }
    get isEnded() {
      return this.#py ? Boolean(this.#py.is_ended) : false;
    }
    get totalActiveMs() {
      // While booting nothing was flushed: the open window is all there is.
      return this.#py ? this.#py.total_active_ms : this.#estimate(performance.now());
    }
    get elapsedMs() {
      return this.#py ? this.#py.elapsed_ms : this.#estimate(performance.now());
    }

    pause() {
      this.#syncCall("pause");
    }
    resume() {
      this.#syncCall("resume");
    }
    flushTimeSpent() {
      return this.#asyncCall("flush_time_spent", []);
    }
    end(data) {
      return this.#asyncCall("end", [data]).then(() => this.#release());
    }

    toJSON() {
      const { id, runId, startedAt, isPaused, isEnded, totalActiveMs, elapsedMs } = this;
      return { id, runId, startedAt, isPaused, isEnded, totalActiveMs, elapsedMs };
    }

    // -- used by the embed, not by pages --
    get _params() {
      return this.#params;
    }
    get _calledAt() {
      return this.#calledAt;
    }
    get _failed() {
      return this.#failed;
    }
    get _py() {
      return this.#py;
    }
    _attach(py) {
      this.#py = py;
      state.byRunId.set(py.run_id, this);
    }
    // From now on every call is a no-op or a rejection. onError hears of it at once, or
    // in a microtask when `later` (start() must return the activity before its callbacks).
    _fail(error, { later = false } = {}) {
      if (this.#failed) return;
      this.#failed = error;
      const onError = this.#params.onError;
      if (typeof onError !== "function") return;
      const context = { type: "timeSpent", activityId: this.#params.id, runId: this.#params.runId };
      if (later) queueMicrotask(() => safely(onError, error, context));
      else safely(onError, error, context);
    }
    // Running as far as the JS side knows: started, not failed, end() not yet succeeded.
    get _running() {
      return !this.#failed && !this.isEnded;
    }

    // After a successful end() the properties keep their last values and the methods are
    // no-ops, as in Python; the proxy is destroyed so the Python activity can be freed.
    #release() {
      const py = this.#py;
      if (!py || this.#released || !py.is_ended) return;
      this.#py = Object.freeze({
        id: py.id,
        run_id: py.run_id,
        started_at_ms: py.started_at_ms,
        is_paused: py.is_paused,
        is_ended: true,
        total_active_ms: py.total_active_ms,
        elapsed_ms: py.elapsed_ms,
      });
      this.#released = true;
      state.byRunId.delete(py.run_id);
      py.destroy();
    }

    #syncCall(name) {
      const at = performance.now();
      if (this.#failed || this.#released) return;
      if (this.#py) {
        pyCall(this.#py, name, undefined);
        return;
      }
      this.#paused = name === "pause";
      this.#pauseLog.push({ t: at, paused: this.#paused });
      state.queue.push({ kind: "call", activity: this, name, at, args: [] });
    }

    // Queued while booting with the call's time, which Python gets as `at` (B1).
    #asyncCall(name, args) {
      const at = performance.now();
      if (this.#failed) return Promise.reject(this.#failed);
      if (this.#released) return Promise.resolve();
      if (this.#py) return pyCallAsync(this.#py, name, undefined, ...args);
      return new Promise((resolve, reject) => {
        state.queue.push({ kind: "async", activity: this, name, at, args, resolve, reject });
      });
    }

    // Active ms since the call to start(), from the pause()/resume() calls and the
    // visibility changes seen while booting (Python takes over with the exact numbers).
    #estimate(now) {
      const time = this.#params.time;
      if (time === false || this.#failed) return 0;
      const visibilityAware = !(time && time.visibilityAware === false);
      const events = this.#pauseLog.map((e) => ({ t: e.t, pause: e.paused }));
      let hidden = false;
      if (visibilityAware) {
        hidden = initiallyHidden;
        for (const e of visibilityLog) {
          if (e.t <= this.#calledAt) hidden = e.hidden;
          else events.push({ t: e.t, hidden: e.hidden });
        }
      }
      events.sort((a, b) => a.t - b.t);
      let paused = false;
      let from = this.#calledAt;
      let total = 0;
      for (const e of events) {
        if (e.t > now) break;
        if (!paused && !hidden) total += e.t - from;
        from = e.t;
        if ("pause" in e) paused = e.pause;
        else hidden = e.hidden;
      }
      if (!paused && !hidden) total += now - from;
      return Math.max(0, Math.floor(total));
    }
  }

  // ---- timeback.activity ------------------------------------------------------------
  function start(params) {
    const calledAt = performance.now();
    if (params === null || typeof params !== "object") {
      throw new TypeError("timeback.activity.start(params): params must be an object");
    }
    // The bridge receives the page's object with runId filled in, so JS and Python agree.
    const withRunId = { ...params, runId: params.runId == null ? uuid4() : params.runId };
    if (state.phase === READY) {
      const activity = new Activity(withRunId, calledAt);
      activity._attach(pyCall(state.bridge, "start", undefined, withRunId));
      return activity;
    }
    const activity = new Activity(withRunId, calledAt);
    if (state.phase === FAILED) {
      // The tracker is down, the lesson is not: hand back an inert activity.
      activity._fail(state.error, { later: true });
      return activity;
    }
    if (state.current && state.current._running) {
      throw namedError(
        "ActivityAlreadyRunningError",
        `activity '${state.current.id}' (runId ${state.current.runId}) is still running; ` +
          "end() it before starting another",
      );
    }
    state.current = activity;
    state.queue.push({ kind: "start", activity, at: calledAt });
    return activity;
  }

  function current() {
    if (state.phase === BOOTING) {
      return state.current && state.current._running ? state.current : null;
    }
    if (state.phase === FAILED) return null;
    const py = pyCall(state.bridge, "current", undefined);
    if (py == null) return null;
    try {
      const known = state.byRunId.get(py.run_id);
      if (known) return known;
      // Started by Python code rather than through this embed: wrap it once.
      const activity = new Activity({ id: py.id, runId: py.run_id }, performance.now());
      activity._attach(py.copy());
      return activity;
    } finally {
      py.destroy();
    }
  }

  // ---- boot -----------------------------------------------------------------------
  let resolveRuntime;
  let rejectRuntime;
  const runtime = new Promise((resolve, reject) => {
    resolveRuntime = resolve;
    rejectRuntime = reject;
  });

  async function loadRuntime() {
    // The loader is web/src/runtime.js (tracker build puts it in front of this file).
    return loadRuntimeFromSrc(runtimeUrl, {
      onPhase: (name) => performance.mark(`timeback-runtime:${name}`),
    });
  }

  async function boot() {
    const pyodide = await loadRuntime();
    performance.mark(MARK + "runtime-loaded");
    resolveRuntime(pyodide);

    const module = pyodide.pyimport("tracker.browser.bridge");
    performance.mark(MARK + "packages-loaded");
    // Pyodide turns a Python exception that reaches JavaScript into a PythonError whose
    // message is a traceback; these keep the exception in Python and hand back a JS Error
    // (message, name, field). `at` is the time of a call queued while booting (B1).
    // Attributes of a PyProxy are borrowed: copy them to keep them past module.destroy().
    state.glue = {
      call: module.call.copy(),
      call_async: module.call_async.copy(),
      take_error: module.take_error.copy(),
    };

    const bridge = pyCall(module, "install", undefined, options);
    module.destroy();
    await pyCallAsync(bridge, "ready", undefined);
    state.bridge = bridge;
    state.phase = READY;
    replay();
    document.removeEventListener("visibilitychange", onVisibility);
    performance.mark(MARK + "ready");
  }

  // B1: the calls made while booting, in order, with the time they were made.
  function replay() {
    const queue = state.queue.splice(0);
    const started = [];
    state.current = null;
    for (const op of queue) {
      const { activity } = op;
      if (activity._failed) {
        if (op.reject) op.reject(activity._failed);
        continue;
      }
      try {
        if (op.kind === "start") {
          activity._attach(pyCall(state.bridge, "start", op.at, activity._params));
          started.push(activity);
        } else if (op.kind === "call") {
          pyCall(activity._py, op.name, op.at, ...op.args);
        } else {
          pyCallAsync(activity._py, op.name, op.at, ...op.args).then(op.resolve, op.reject);
        }
      } catch (error) {
        if (op.kind === "start") {
          // e.g. UnknownCourseError: only Python knows the config. The page holds an
          // activity that will never run; say so where the page listens.
          console.error(`timeback: activity ${activity._params.id} could not start:`, error);
          activity._fail(error);
        } else {
          console.error(`timeback: replaying ${op.name}() failed:`, error);
        }
      }
    }
    // The bridge feeds the boot-time visibility entries (B2) interleaved with the replayed
    // calls; once they are all in, it follows the document live.
    for (const activity of started) {
      if (!activity._failed && "replayed" in activity._py) {
        try {
          pyCall(activity._py, "replayed", undefined);
        } catch (error) {
          console.error("timeback: replayed() failed:", error);
        }
      }
    }
  }

  function fail(error) {
    state.phase = FAILED;
    state.error = error instanceof Error ? error : new Error(String(error));
    state.error.message = `timeback: the tracker could not start: ${state.error.message}`;
    console.error(state.error);
    document.removeEventListener("visibilitychange", onVisibility);
    rejectRuntime(state.error);
    const queue = state.queue.splice(0);
    state.current = null;
    for (const op of queue) {
      if (op.kind === "start") op.activity._fail(state.error);
      else if (op.reject) op.reject(state.error);
    }
    throw state.error;
  }

  const ready = boot().catch(fail);
  // Logged once above; without these a page that ignores the promises would also get
  // "Uncaught (in promise)" reports. Pages that await them still see the rejection.
  ready.catch(() => {});
  runtime.catch(() => {});

  window.timeback = Object.freeze({
    ready,
    pyodide: runtime,
    activity: Object.freeze({
      start,
      get current() {
        return current();
      },
    }),
  });
})();

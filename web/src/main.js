// The embed itself: window.timeback, the boot, and the hand-over to Python. Runs last, in
// the one function that `tracker build` wraps around web/src/.

const MARK = "timeback:";
const BOOTING = "booting";
const READY = "ready";
const FAILED = "failed";

function main() {
  performance.mark(`${MARK}script-start`);
  // A `defer`/`async` tag runs after the page's own scripts: those queue their work with the
  // stub snippet (docs/api.md), `timeback.run(fn)`, which records when they asked.
  const stub = window.timeback && Array.isArray(window.timeback.q) ? window.timeback : null;
  if (window.timeback && !stub) {
    console.warn("timeback: timeback.js is included twice; the second copy does nothing");
    return;
  }
  // From the first line: a tab hidden, closed or frozen while booting is seen (B2, B3).
  const log = new BootLog(document, window);
  const { runtimeUrl, options } = locateEmbed(document, location.href);
  const originMs = Math.round(performance.timeOrigin);

  const state = {
    phase: BOOTING,
    error: null, // the boot error once FAILED
    bridge: null, // Python Bridge
    glue: null, // call / call_async / take_error of tracker.browser.bridge
    queue: [], // calls made while booting, replayed in order
    booted: [], // activities started while booting: their boot windows are the embed's
    current: null, // the activity started while booting (the JS side knows it)
    byRunId: new Map(), // runId -> facade, so `current` returns the object start() gave
  };

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

  const host = {
    log,
    originMs,
    enqueue: (op) => state.queue.push(op),
    // `at`: the performance.now() of the page's call, so that the time is that of the call,
    // not of Python getting to it (the crossing costs ms on a loaded machine).
    call: (target, name, at, ...args) => pyCall(target, name, at, ...args),
    callAsync: (target, name, at, ...args) => pyCallAsync(target, name, at, ...args),
    attached: (activity) => state.byRunId.set(activity._py.run_id, activity),
    released: (py) => state.byRunId.delete(py.run_id),
  };

  // B3: a pagehide while booting closes each boot activity's window and beacons it.
  // Looked up at the exit, not now: a page (or a test's spy) may wrap them after this ran.
  const browser = {
    storage: null,
    navigator,
    fetch: (...args) => window.fetch(...args),
    Blob,
    location,
  };
  log.onPageHide = (entry) => {
    try {
      browser.storage = window.localStorage;
    } catch {
      browser.storage = { setItem() {}, removeItem() {} }; // storage disabled: beacon only
    }
    for (const activity of state.booted) {
      const closed = activity._closeBootWindow(entry.t);
      if (closed) {
        sendBootWindow(
          bootWindowRequest(activity._params, closed, options.base, originMs),
          browser,
        );
      }
    }
  };
  log.onPageRestored = (entry) => {
    for (const activity of state.booted) activity._reopenBootWindow(entry.t);
  };

  // ---- timeback.activity ----------------------------------------------------------
  // While a queued run(fn) replays, start() inside it takes the time the page called run()
  // (B1: the activity starts when the page asked, not when a deferred script got to it).
  let replayedAt = null;
  function run(fn) {
    if (typeof fn !== "function") throw new TypeError("timeback.run(fn): fn must be a function");
    fn();
  }

  function start(params) {
    const calledAt = replayedAt ?? performance.now();
    if (params === null || typeof params !== "object") {
      throw new TypeError("timeback.activity.start(params): params must be an object");
    }
    // The bridge receives the page's object with runId filled in, so JS and Python agree.
    const withRunId = { ...params, runId: params.runId == null ? uuid4(crypto) : params.runId };
    const activity = new Activity(withRunId, calledAt, host);
    if (state.phase === READY) {
      activity._attach(pyCall(state.bridge, "start", undefined, withRunId));
      return activity;
    }
    if (state.phase === FAILED) {
      // The tracker is down, the lesson is not: hand back an inert activity.
      activity._fail(state.error, { later: true });
      return activity;
    }
    if (state.current?._running) {
      throw namedError(
        "ActivityAlreadyRunningError",
        `activity '${state.current.id}' (runId ${state.current.runId}) is still running; ` +
          "end() it before starting another",
      );
    }
    state.current = activity;
    state.booted.push(activity);
    state.queue.push({ kind: "start", activity, at: calledAt });
    return activity;
  }

  function current() {
    if (state.phase === BOOTING) {
      return state.current?._running ? state.current : null;
    }
    if (state.phase === FAILED) return null;
    const py = pyCall(state.bridge, "current", undefined);
    if (py == null) return null;
    try {
      const known = state.byRunId.get(py.run_id);
      if (known) return known;
      // Started by Python code rather than through this embed: wrap it once.
      const activity = new Activity({ id: py.id, runId: py.run_id }, performance.now(), host);
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

  async function boot() {
    const pyodide = await loadRuntime(runtimeUrl, {
      // The loader's own phases; "timeback:" marks are the embed's four (docs/api.md).
      onPhase: (name) => performance.mark(`timeback-runtime:${name}`),
    });
    performance.mark(`${MARK}runtime-loaded`);
    resolveRuntime(pyodide);

    const module = pyodide.pyimport("tracker.browser.bridge");
    performance.mark(`${MARK}packages-loaded`);
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
    // One task from here to log.stop(): Python's listeners, added while replaying, and
    // the log never both see one event, and none falls between them.
    const queue = state.queue.splice(0);
    state.current = null;
    state.booted = [];
    replayBootQueue(queue, {
      start: (params, handover, at) => pyCall(bridge, "start", at, params, handover),
      call: pyCall,
      callAsync: pyCallAsync,
    });
    log.stop();
    performance.mark(`${MARK}ready`);
  }

  function fail(error) {
    state.phase = FAILED;
    state.error = error instanceof Error ? error : new Error(String(error));
    state.error.message = `timeback: the tracker could not start: ${state.error.message}`;
    console.error(state.error);
    log.stop();
    rejectRuntime(state.error);
    state.current = null;
    state.booted = [];
    failBootQueue(state.queue.splice(0), state.error);
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
    run,
    activity: Object.freeze({
      start,
      get current() {
        return current();
      },
    }),
  });
  if (stub) {
    for (const [fn, at] of stub.q.splice(0)) {
      replayedAt = typeof at === "number" ? at : null;
      try {
        fn();
      } catch (error) {
        console.error("timeback: a queued timeback.run() callback threw", error);
      } finally {
        replayedAt = null;
      }
    }
  }
}

main();

// The activity object the page holds. While Python boots it keeps the page's calls (B1)
// and an estimate of the time; once Python runs it reads and calls the Python activity.
//
// `host` is what the embed gives it: {log (BootLog), enqueue(op), call(py, name, ...args),
// callAsync(py, name, ...args), attached(activity), released(py), originMs}.

function namedError(name, message) {
  const error = new Error(message);
  error.name = name;
  return error;
}

function safely(callback, ...args) {
  try {
    callback(...args);
  } catch (error) {
    console.error("timeback: a callback threw", error);
  }
}

class Activity {
  #params;
  #calledAt;
  #host;
  #py = null; // Python JsActivity once started in Python; a frozen snapshot once ended
  #released = false; // ended: the Python object was let go (a page may run many lessons)
  #failed = null; // the error that keeps this activity from ever running
  #paused = false; // while booting
  #pauseLog = []; // while booting: [{t, paused}]
  #endCalledAt = null; // end() while booting: the boot window closes there (B1)
  // B3: where the boot window not yet delivered began (whole ms); null once a pagehide
  // delivered it, until the page comes back from the back/forward cache.
  #windowFrom;
  #resumeAt = null; // after a boot-window beacon: Python's engine begins here
  #deliveredActiveMs = 0; // active ms delivered by boot-window beacons

  constructor(params, calledAt, host) {
    this.#params = params;
    this.#calledAt = calledAt;
    this.#host = host;
    this.#windowFrom = Math.round(calledAt);
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
    // takes over. After a boot-window beacon Python's engine starts later (B3): the
    // activity's start stays the call.
    if (this.#py && this.#resumeAt === null) return new Date(this.#py.started_at_ms);
    return new Date(this.#host.originMs + Math.round(this.#calledAt));
  }
  get isPaused() {
    return this.#py ? Boolean(this.#py.is_paused) : this.#paused;
  }
  get isEnded() {
    return this.#py ? Boolean(this.#py.is_ended) : false;
  }
  get totalActiveMs() {
    if (this.#py) return this.#py.total_active_ms + this.#deliveredActiveMs;
    return this.#deliveredActiveMs + this.#openWindowMs(performance.now());
  }
  get elapsedMs() {
    return this.#py ? this.#py.elapsed_ms : this.#openWindowMs(performance.now());
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
  // What the bridge needs to continue the boot window (bridge.py Bridge.start).
  _handover() {
    return { log: this.#host.log.toJSON(), resumeAt: this.#resumeAt };
  }
  _attach(py) {
    this.#py = py;
    this.#host.attached(this);
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

  /**
   * B3, in the pagehide task while booting: closes the boot window at the exit (or at the
   * end() call) and returns it as {started, ended, active, paused}, or null when there is
   * nothing to send. Python will begin after it, so the window is never counted twice.
   */
  _closeBootWindow(hideAt) {
    const time = this.#params.time;
    if (this.#failed || this.#py || time === false || this.#windowFrom === null) return null;
    // Without flushOnPageHide the window is held (P2): the replayed pagehide and pageshow
    // let Python close it if the page comes back.
    if (time && time.flushOnPageHide === false) return null;
    const from = this.#windowFrom;
    const to = Math.round(this.#endCalledAt ?? hideAt);
    this.#windowFrom = null;
    this.#resumeAt = Math.round(hideAt);
    const counted = this.#time(from, to);
    if (to <= from || counted.active === 0) return null; // W4, and nothing to count
    this.#deliveredActiveMs += counted.active;
    return { started: from, ended: to, ...counted };
  }

  /** P2: back from the back/forward cache while booting: a new window opens here. */
  _reopenBootWindow(showAt) {
    if (this.#windowFrom !== null || this.#endCalledAt !== null || this.#resumeAt === null) {
      return;
    }
    this.#windowFrom = Math.round(showAt);
    this.#resumeAt = this.#windowFrom;
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
    this.#host.released(py);
    py.destroy();
  }

  #syncCall(name) {
    const at = performance.now();
    if (this.#failed || this.#released) return;
    if (this.#py) {
      this.#host.call(this.#py, name, at);
      return;
    }
    this.#paused = name === "pause";
    this.#pauseLog.push({ t: at, paused: this.#paused });
    this.#host.enqueue({ kind: "call", activity: this, name, at, args: [] });
  }

  // Queued while booting with the call's time, which Python gets as `at` (B1).
  #asyncCall(name, args) {
    const at = performance.now();
    if (this.#failed) return Promise.reject(this.#failed);
    if (this.#released) return Promise.resolve();
    if (this.#py) return this.#host.callAsync(this.#py, name, at, ...args);
    if (name === "end" && this.#endCalledAt === null) this.#endCalledAt = at;
    return new Promise((resolve, reject) => {
      this.#host.enqueue({ kind: "async", activity: this, name, at, args, resolve, reject });
    });
  }

  // Active ms of the boot window still open (Python takes over with the exact numbers).
  #openWindowMs(now) {
    if (this.#params.time === false || this.#failed || this.#windowFrom === null) return 0;
    const to = Math.round(Math.min(now, this.#endCalledAt ?? now));
    return to > this.#windowFrom ? this.#time(this.#windowFrom, to).active : 0;
  }

  #time(from, to) {
    const time = this.#params.time;
    return bootTime({
      from,
      to,
      pauses: this.#pauseLog,
      log: this.#host.log,
      visibilityAware: !(time && time.visibilityAware === false),
    });
  }
}

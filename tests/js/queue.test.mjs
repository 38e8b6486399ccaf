// B1, B3: the queue of boot-time calls, the Activity's estimate and boot window, and the
// hand-over to Python, with a fake Python and a fake page.
import assert from "node:assert/strict";
import { test } from "node:test";
import { fakePage, load, plain } from "./load.mjs";

function embed() {
  const clock = { now: 0 };
  const errors = [];
  const mod = load(
    ["boot-log.js", "estimate.js", "activity.js", "queue.js"],
    ["BootLog", "Activity", "replayBootQueue", "failBootQueue"],
    {
      performance: { now: () => clock.now },
      console: { error: (...args) => errors.push(args.map(String).join(" ")) },
    },
  );
  const page = fakePage();
  const log = new mod.BootLog(page.document, page.window);
  const queue = [];
  const host = {
    log,
    originMs: 1_000_000,
    enqueue: (op) => queue.push(op),
    attached: () => {},
    released: () => {},
  };
  const start = (params, at) => {
    clock.now = at;
    const activity = new mod.Activity({ runId: "r", ...params }, at, host);
    queue.push({ kind: "start", activity, at });
    return activity;
  };
  return { ...mod, clock, errors, page, log, queue, host, start };
}

// A Python that records what the embed asks of it.
function fakePython({ failStart = null } = {}) {
  const calls = [];
  return {
    calls,
    start(params, handover, at) {
      calls.push(["start", params.id, plain(handover), at]);
      if (failStart) throw failStart;
      return {
        id: params.id,
        run_id: params.runId,
        started_at_ms: 0,
        replayed() {},
        total_active_ms: 40,
        elapsed_ms: 40,
      };
    },
    call(_target, name, at, ...args) {
      calls.push(["call", name, at, ...args]);
    },
    callAsync(_target, name, at, ...args) {
      calls.push(["async", name, at, ...args]);
      return Promise.resolve();
    },
  };
}

test("B1: calls are replayed in order with their call times, then replayed()", async () => {
  const e = embed();
  const activity = e.start({ id: "a" }, 100);
  e.clock.now = 200;
  activity.pause();
  e.clock.now = 300;
  activity.resume();
  e.clock.now = 400;
  const ended = activity.end({ xpEarned: 1 });
  const py = fakePython();
  const started = e.replayBootQueue(e.queue.splice(0), py);
  assert.equal(started.length, 1);
  assert.deepEqual(plain(py.calls), [
    ["start", "a", { log: { initiallyHidden: false, entries: [] }, resumeAt: null }, 100],
    ["call", "pause", 200],
    ["call", "resume", 300],
    ["async", "end", 400, { xpEarned: 1 }],
    ["call", "replayed", null],
  ]);
  await ended;
});

test("a start Python refuses fails the activity: onError, and its queued calls reject", async () => {
  const e = embed();
  const failures = [];
  const refused = Object.assign(new Error("no such course"), { name: "UnknownCourseError" });
  const activity = e.start({ id: "a", onError: (error) => failures.push(error.name) }, 10);
  const flushed = activity.flushTimeSpent();
  e.replayBootQueue(e.queue.splice(0), fakePython({ failStart: refused }));
  await assert.rejects(flushed, /no such course/);
  assert.deepEqual(failures, ["UnknownCourseError"]);
  assert.match(e.errors[0], /activity a could not start/);
});

test("a boot failure rejects every queued call and fails every queued activity", async () => {
  const e = embed();
  const failures = [];
  const activity = e.start({ id: "a", onError: (error) => failures.push(error.message) }, 10);
  const ended = activity.end();
  e.failBootQueue(e.queue.splice(0), new Error("runtime missing"));
  await assert.rejects(ended, /runtime missing/);
  assert.deepEqual(failures, ["runtime missing"]);
});

test("the estimate while booting: hidden and paused time left out (W3, W7)", () => {
  const e = embed();
  const activity = e.start({ id: "a" }, 100);
  e.page.visibility("hidden", 200);
  e.page.visibility("visible", 300);
  e.clock.now = 350;
  activity.pause();
  e.clock.now = 1_000;
  assert.equal(activity.elapsedMs, 150);
  assert.equal(activity.totalActiveMs, 150);
  assert.equal(activity.isPaused, true);
});

test("B3: a pagehide closes the boot window at the exit; active and paused add up (W2)", () => {
  const e = embed();
  const activity = e.start({ id: "a" }, 100.4);
  e.page.visibility("hidden", 200);
  e.page.visibility("visible", 250);
  const closed = activity._closeBootWindow(400.6);
  assert.deepEqual(plain(closed), { started: 100, ended: 401, active: 251, paused: 50 });
  // Delivered: it is not sent again, and counts in totalActiveMs but not in the open window.
  assert.equal(activity._closeBootWindow(500), null);
  e.clock.now = 401;
  assert.equal(activity.totalActiveMs, 251);
  assert.equal(activity.elapsedMs, 0);
});

test("B3/P2: back from the cache, a new window opens at pageshow; Python begins there", () => {
  const e = embed();
  const activity = e.start({ id: "a" }, 100);
  e.page.pagehide(300, true);
  activity._closeBootWindow(300);
  e.page.pageshow(9_000, true);
  activity._reopenBootWindow(9_000);
  e.clock.now = 9_050;
  assert.equal(activity.elapsedMs, 50); // the cache stay counts nowhere
  assert.equal(activity.totalActiveMs, 250);
  assert.equal(activity._handover().resumeAt, 9_000);
  // The activity's start stays the call, although Python's engine begins later.
  assert.equal(activity.startedAt.getTime(), 1_000_100);
  const closed = activity._closeBootWindow(9_300);
  assert.deepEqual(plain(closed), { started: 9_000, ended: 9_300, active: 300, paused: 0 });
});

test("B3: end() while booting closes the window at the call, not at the exit (B1)", () => {
  const e = embed();
  const activity = e.start({ id: "a" }, 100);
  e.clock.now = 400;
  activity.end();
  const closed = activity._closeBootWindow(2_000);
  assert.deepEqual(plain(closed), { started: 100, ended: 400, active: 300, paused: 0 });
  // Ended: a restore opens no new window.
  activity._reopenBootWindow(3_000);
  assert.equal(activity._closeBootWindow(4_000), null);
});

test("B3: nothing to beacon with time: false, flushOnPageHide off, or no active time", () => {
  const e = embed();
  assert.equal(e.start({ id: "a", time: false }, 100)._closeBootWindow(400), null);
  const held = e.start({ id: "b", time: { flushOnPageHide: false } }, 100);
  assert.equal(held._closeBootWindow(400), null);
  assert.equal(held._handover().resumeAt, null); // P2: Python closes the held window
  const paused = e.start({ id: "c" }, 100);
  paused.pause();
  const closed = paused._closeBootWindow(400);
  assert.equal(closed, null);
  assert.equal(paused._handover().resumeAt, 400); // the embed handled it: Python begins after
});

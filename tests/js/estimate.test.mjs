// W3, H3, P2, T3: the active time of a boot window, counted as the engine counts it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { load, plain } from "./load.mjs";

const { bootTime } = load(["boot-log.js", "estimate.js"], ["bootTime"]);

const log = (entries, initiallyHidden = false) => ({ initiallyHidden, entries });
const hidden = (t) => ({ type: "visibility", t, hidden: true });
const visible = (t) => ({ type: "visibility", t, hidden: false });
const time = (from, to, { pauses = [], entries = [], initiallyHidden, visibilityAware = true }) =>
  bootTime({ from, to, pauses, log: log(entries, initiallyHidden), visibilityAware });

test("W3: a visible, unpaused span is all active", () => {
  assert.deepEqual(plain(time(100, 400, {})), { active: 300, paused: 0 });
});

test("W3: hidden time inside the window is pausedMs", () => {
  const entries = [hidden(150), visible(250)];
  assert.deepEqual(plain(time(100, 400, { entries })), { active: 200, paused: 100 });
});

test("a change before the window's start sets the state it starts in", () => {
  const entries = [hidden(50)];
  assert.deepEqual(plain(time(100, 400, { entries })), { active: 0, paused: 300 });
  assert.deepEqual(plain(time(100, 400, { entries: [], initiallyHidden: true })), {
    active: 0,
    paused: 300,
  });
});

test("H3: with visibilityAware off hidden time is active", () => {
  const entries = [hidden(150), visible(250)];
  assert.deepEqual(plain(time(100, 400, { entries, visibilityAware: false })), {
    active: 300,
    paused: 0,
  });
});

test("pause() and resume() while booting: the paused stretch is not active", () => {
  const pauses = [
    { t: 200, paused: true },
    { t: 300, paused: false },
  ];
  assert.deepEqual(plain(time(100, 400, { pauses })), { active: 200, paused: 100 });
});

test("P2: a back/forward-cache stay is in neither count", () => {
  const entries = [
    { type: "pagehide", t: 200, persisted: true },
    { type: "pageshow", t: 5_000, persisted: true },
  ];
  assert.deepEqual(plain(time(100, 5_100, { entries })), { active: 200, paused: 0 });
});

test("T3: times are whole ms, halves up, so W2 holds exactly", () => {
  // Chromium's times come in 100 µs steps: 100.5 rounds to 101, 399.4 to 399.
  const entries = [hidden(200.5), visible(300.4)];
  const counted = time(Math.round(100.5), Math.round(399.4), { entries });
  assert.deepEqual(plain(counted), { active: 199, paused: 99 });
  assert.equal(counted.active + counted.paused, 399 - 101);
});

test("events after the window's end do not count", () => {
  assert.deepEqual(plain(time(100, 400, { entries: [hidden(500)] })), { active: 300, paused: 0 });
});

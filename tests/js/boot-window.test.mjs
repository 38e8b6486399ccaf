// B3, P1, P3: the boot window's body, key and beacon, as Python sends and keeps a window.
import assert from "node:assert/strict";
import { test } from "node:test";
import { load, plain } from "./load.mjs";

const { bootWindowRequest, sendBootWindow } = load(
  ["boot-window.js"],
  ["bootWindowRequest", "sendBootWindow"],
);

const PARAMS = {
  id: "fractions",
  name: "Fractions",
  course: { subject: "Math", grade: 3 },
  runId: "6f1c2c1e-6a43-4d8e-9a51-8d1f3c0b7a11",
};
const ORIGIN = Date.UTC(2026, 0, 27, 10, 0, 0, 0);

test("wire §1: the heartbeat body Python sends, in its key order, times from timeOrigin (T3)", () => {
  const window = { started: 1_200, ended: 1_500, active: 250, paused: 50 };
  const request = bootWindowRequest(PARAMS, window, "http://127.0.0.1/api/timeback/", ORIGIN);
  assert.equal(request.url, "http://127.0.0.1/api/timeback/activity/heartbeat");
  assert.equal(
    request.body,
    '{"id":"fractions","name":"Fractions","course":{"subject":"Math","grade":3},' +
      `"runId":"${PARAMS.runId}","startedAt":"2026-01-27T10:00:01.200Z",` +
      '"endedAt":"2026-01-27T10:00:01.500Z","elapsedMs":250,"pausedMs":50}',
  );
  // outbox.window_key: the same identity (runId + startedAt) as the server's dedupe.
  assert.equal(request.key, `timeback.window.2026-01-27T10:00:01.200Z.${PARAMS.runId}`);
  // delivery.StoredWindow.page: this page load's id, so its own queue knows the copy is its.
  assert.equal(request.page, ORIGIN);
});

function fakes({ beacon = true, storageFails = false } = {}) {
  const calls = [];
  const stored = new Map();
  const storage = {
    setItem(key, value) {
      if (storageFails) throw new Error("QuotaExceededError");
      calls.push(["setItem", key]);
      stored.set(key, value);
    },
    removeItem(key) {
      calls.push(["removeItem", key]);
      stored.delete(key);
    },
  };
  let answer;
  const ports = {
    storage,
    navigator: {
      sendBeacon(url, blob) {
        calls.push(["sendBeacon", url, blob.type, blob.parts.join("")]);
        return beacon;
      },
    },
    fetch(url, init) {
      calls.push(["fetch", url, init.keepalive, init.body, init.headers["Content-Type"]]);
      return new Promise((resolve) => {
        answer = resolve;
      });
    },
    Blob: class {
      constructor(parts, { type }) {
        this.parts = parts;
        this.type = type;
      }
    },
  };
  return { calls, stored, ports, answer: (response) => answer(response) };
}

const REQUEST = {
  url: "/api/timeback/activity/heartbeat",
  key: "timeback.window.k",
  body: "{}",
  page: ORIGIN,
};

test("P3: stored first, as Outbox.store keeps it, then handed to sendBeacon as JSON (P1)", () => {
  const { calls, stored, ports } = fakes();
  assert.equal(sendBootWindow(REQUEST, ports), "beacon");
  assert.deepEqual(plain(calls), [
    ["setItem", REQUEST.key],
    ["sendBeacon", REQUEST.url, "application/json", "{}"],
  ]);
  // No user tag: nobody answered yet. The page id tells its own queue from a later page's.
  assert.deepEqual(JSON.parse(stored.get(REQUEST.key)), {
    url: REQUEST.url,
    body: "{}",
    page: ORIGIN,
  });
});

test("P1: a refused beacon goes by fetch keepalive; a 2xx answer forgets the window", async () => {
  const { calls, stored, ports, answer } = fakes({ beacon: false });
  assert.equal(sendBootWindow(REQUEST, ports), "keepalive");
  assert.deepEqual(plain(calls.slice(1)), [
    ["sendBeacon", REQUEST.url, "application/json", "{}"],
    ["fetch", REQUEST.url, true, "{}", "application/json"],
  ]);
  answer({ ok: true });
  await new Promise((resolve) => setTimeout(resolve, 0));
  assert.equal(stored.has(REQUEST.key), false);
});

test("storage disabled: the beacon still leaves", () => {
  const { calls, ports } = fakes({ storageFails: true });
  assert.equal(sendBootWindow(REQUEST, ports), "beacon");
  assert.equal(calls[0][0], "sendBeacon");
});

test("an API on another origin gets text/plain: a beacon or keepalive cannot be preflighted", () => {
  const { calls, ports } = fakes({ beacon: false });
  const lesson = { href: "http://lessons.test/a.html", origin: "http://lessons.test" };
  const request = { ...REQUEST, url: "http://api.test/api/timeback/activity/heartbeat" };
  sendBootWindow(request, { ...ports, location: lesson });
  assert.deepEqual(plain(calls.slice(1)), [
    ["sendBeacon", request.url, "text/plain;charset=UTF-8", "{}"],
    ["fetch", request.url, true, "{}", "text/plain;charset=UTF-8"],
  ]);
  // Same origin: JSON, as before.
  const same = fakes();
  sendBootWindow(REQUEST, { ...same.ports, location: lesson });
  assert.equal(plain(same.calls)[1][2], "application/json");
});

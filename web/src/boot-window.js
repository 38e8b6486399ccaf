// B3: a tab closed, or put in the back/forward cache, while Python boots still delivers
// its time. In the pagehide task (P1) the embed closes each boot activity's window and
// hands it to navigator.sendBeacon, in the body Python sends for a heartbeat (wire §1) and
// stored under the key Python keeps a page-exit window under (tracker/outbox.py), so a
// later load resends it (P3); the server's dedupe on runId + startedAt makes that harmless.
// The copy names its page (timeOrigin) and no user: Python's delivery queue (tracker/delivery.py)
// tags it with this page's first answer, and another page replays it as unverified.

const HEARTBEAT_PATH = "/activity/heartbeat"; // tracker/wire.py HEARTBEAT_PATH
const WINDOW_KEY_PREFIX = "timeback.window."; // tracker/outbox.py KEY_PREFIX
const JSON_TYPE = "application/json";
const TEXT_TYPE = "text/plain;charset=UTF-8";

/** An ISO 8601 UTC time with ms, as tracker/timefmt.py iso_from_epoch_ms writes it. */
function isoFromEpochMs(epochMs) {
  return new Date(epochMs).toISOString();
}

/** outbox.window_key: a window's identity, sortable by time. */
function windowKey(startedAtIso, runId) {
  return `${WINDOW_KEY_PREFIX}${startedAtIso}.${runId}`;
}

/**
 * {url, key, body, page} of a boot window {started, ended, active, paused} (whole ms of the
 * page's clock). `origin` is performance.timeOrigin in whole ms (T3). The keys come in the
 * order of Activity.heartbeat_body; the course goes as the page gave it (the server reads
 * either spelling and dedupes on runId + startedAt, not on the bytes).
 */
function bootWindowRequest(params, window, base, origin) {
  const startedAt = isoFromEpochMs(origin + window.started);
  const body = JSON.stringify({
    id: params.id,
    name: params.name,
    course: params.course,
    runId: params.runId,
    startedAt,
    endedAt: isoFromEpochMs(origin + window.ended),
    elapsedMs: window.active,
    pausedMs: window.paused,
  });
  return {
    url: base.replace(/\/+$/, "") + HEARTBEAT_PATH,
    key: windowKey(startedAt, params.runId),
    body,
    page: origin, // the page load's id, as the queue's (tracker/outbox.py: clock.time_origin)
  };
}

/**
 * Stores the window as Outbox.store does, then hands it to the browser in this very task:
 * sendBeacon, or fetch keepalive when the beacon is refused (P1). Never throws: the page is
 * leaving. Says how it went: "beacon", "keepalive" or "stored".
 */
// A beacon or keepalive request cannot wait for a CORS preflight: to an API on another
// origin it goes as text/plain (a "simple" request), which the server reads as JSON.
function exitContentType(url, here) {
  try {
    return here && new URL(url, here.href).origin !== here.origin ? TEXT_TYPE : JSON_TYPE;
  } catch {
    return JSON_TYPE;
  }
}

function sendBootWindow({ url, key, body, page }, { storage, navigator, fetch, Blob, location }) {
  const type = exitContentType(url, location);
  try {
    storage.setItem(key, JSON.stringify({ url, body, page }));
  } catch {
    // Storage full or disabled: the beacon is the only chance.
  }
  try {
    if (navigator.sendBeacon(url, new Blob([body], { type }))) return "beacon";
  } catch {
    // A browser without sendBeacon: keepalive below.
  }
  try {
    const forget = (response) => {
      // Proven delivered (P3): no later load needs to send it again.
      if (response.ok) {
        try {
          storage.removeItem(key);
        } catch {
          // Kept: the next load resends it and the server dedupes.
        }
      }
    };
    fetch(url, {
      method: "POST",
      body,
      headers: { "Content-Type": type },
      credentials: "include", // the session cookie, also for an API on another origin
      keepalive: true,
    }).then(forget, () => {});
    return "keepalive";
  } catch {
    return "stored";
  }
}

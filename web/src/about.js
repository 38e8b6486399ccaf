/*
 * timeback.js: the one-tag embed of the tracker.
 *
 *   <script src="/timeback/timeback.js" data-base="/api/timeback"
 *           data-config="/timeback.config.json"></script>
 *
 * A classic script: `tracker build` concatenates the files of web/src/ (tracker/build/embed.py
 * lists them in order) into one function, so they share one scope and leak nothing into the
 * page. It boots Pyodide from the folder it was loaded from, loads the `tracker` wheel and
 * hands over to the Python bridge (tracker.browser.bridge). Until Python is ready it queues
 * the page's calls with their performance.now() time and replays them in order (time model
 * B1), and it logs visibilitychange, pagehide and pageshow from its first line (B2), so that
 * a tab closed during boot still delivers its time by beacon (B3).
 *
 * window.timeback = {
 *   ready:    Promise<void>, resolves once Python runs and queued calls were replayed;
 *             rejects (and logs) when the runtime cannot start
 *   activity: { start(params) -> Activity, get current() -> Activity | null },
 *   pyodide:  Promise<PyodideAPI>, for diagnostics and tests (not part of the API)
 * }
 *
 * performance marks: timeback:script-start, timeback:runtime-loaded (the runtime is up and
 * the wheels are installed), timeback:packages-loaded (tracker, hence pydantic, imported),
 * timeback:ready.
 *
 * A boot failure never throws into the lesson page: it is logged, `ready` rejects,
 * promises of queued calls reject and each queued activity's onError is called.
 */

/*
 * server-shim.js: the transport of the static demo (tracker demo --static), loaded before
 * the embed on every page; never used by the server demo. It holds no rules of its own.
 *
 * Requests to the demo's server routes (api/timeback/..., auth/..., demo/api/... below the
 * site root) go to the server code of `tracker demo` running in the page's own Pyodide
 * (tracker/demo/inpage.py, shipped in assets/server/); everything else goes to the network.
 * That server is loaded once the tracker is ready, so the tracker's boot does not wait for it.
 * After each request the server's saved state (its databases, secret and cookies) is kept in
 * localStorage for the next page.
 *
 * A page that closes cannot wait for Python: a beacon to these routes is refused (the
 * tracker then sends the same body by fetch keepalive), and a keepalive request is written
 * to localStorage before it is handled, so the next page's server replays it first if this
 * page did not live to finish it. The server's own duplicate check makes a replay harmless.
 */
(() => {
  "use strict";
  const root = new URL("../", document.currentScript.src); // this file is assets/server-shim.js
  const SAVED = "demo.static.server";
  const PENDING = "demo.static.pending";
  const FOLDER = "/tmp/tracker-demo";
  const nativeFetch = window.fetch.bind(window);
  const nativeBeacon = navigator.sendBeacon ? navigator.sendBeacon.bind(navigator) : null;

  function routeOf(url) {
    if (url.origin !== root.origin || !url.pathname.startsWith(root.pathname)) return null;
    const rest = url.pathname.slice(root.pathname.length);
    return /^(api\/timeback|auth|demo\/api)\//.test(rest) ? rest : null;
  }

  function pending() {
    try {
      return JSON.parse(localStorage.getItem(PENDING) || "[]");
    } catch {
      return [];
    }
  }
  function setPending(list) {
    try {
      if (list.length) localStorage.setItem(PENDING, JSON.stringify(list));
      else localStorage.removeItem(PENDING);
    } catch {
      /* storage full or off: the tracker's own outbox still resends the window */
    }
  }

  const documentParsed = new Promise((resolve) => {
    if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", resolve);
    else resolve();
  });

  async function bytes(url) {
    const response = await nativeFetch(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status}`);
    return new Uint8Array(await response.arrayBuffer());
  }

  async function boot() {
    await documentParsed; // the embed's script, after this one, has defined window.timeback
    if (!window.timeback) throw new Error("the page has no tracker embed");
    const pyodide = await window.timeback.pyodide;
    await window.timeback.ready.catch(() => {});
    const manifestUrl = new URL("assets/server/server.json", root);
    const manifest = await (await nativeFetch(manifestUrl)).json();
    const [archive, stdlib] = await Promise.all([
      bytes(new URL(manifest.archive, manifestUrl)),
      bytes(new URL(manifest.stdlib, manifestUrl)),
    ]);
    pyodide.FS.mkdirTree(`${FOLDER}/server`);
    pyodide.unpackArchive(archive, "zip", { extractDir: `${FOLDER}/server` });
    pyodide.FS.writeFile(`${FOLDER}/python_stdlib.zip`, stdlib);
    pyodide.runPython(
      [
        "import sys, tracker",
        `sys.path.insert(0, "${FOLDER}/server/site")`,
        `tracker.__path__.append("${FOLDER}/server/site/tracker")`,
        "from tracker.demo.stdlib_path import extend_stdlib",
        `extend_stdlib("${FOLDER}/python_stdlib.zip")`,
      ].join("\n"),
    );
    const inpage = pyodide.pyimport("tracker.demo.inpage");
    const server = inpage.open_in_page(FOLDER, localStorage.getItem(SAVED) || "");
    inpage.destroy();
    for (const request of pending()) {
      await call(server, request);
      setPending(pending().filter((p) => p.id !== request.id));
    }
    return server;
  }

  let started = null;
  const inPageServer = () => {
    if (!started) {
      started = boot();
      started.catch((error) => console.error(`server-shim: the in-page server could not start: ${error.message}`));
    }
    return started;
  };

  async function call(server, request) {
    const text = await server.handle_json(JSON.stringify(request));
    try {
      localStorage.setItem(SAVED, server.saved_json());
    } catch (error) {
      console.warn(`server-shim: the demo's data could not be saved (${error.message})`);
    }
    return JSON.parse(text);
  }

  async function answer(request) {
    const { status, headers, body } = await call(await inPageServer(), request);
    const empty = status === 204 || status === 304;
    return new Response(empty ? null : body, { status, headers });
  }

  window.fetch = function fetch(input, init = {}) {
    const url = new URL(input instanceof Request ? input.url : String(input), location.href);
    const route = routeOf(url);
    if (route === null) return nativeFetch(input, init);
    const headers = [...new Headers(init.headers || (input instanceof Request ? input.headers : undefined))];
    // As the browser would add to a same-origin request (the site's origin check reads it).
    headers.push(["origin", location.origin]);
    const request = {
      id: Math.random().toString(36).slice(2),
      method: String(init.method || (input instanceof Request ? input.method : "GET")).toUpperCase(),
      url: `${url.origin}/${route}${url.search}`,
      headers,
      body: typeof init.body === "string" ? init.body : "",
    };
    if (init.keepalive) setPending([...pending(), request]); // now: the page may be closing
    const answered = answer(request);
    if (!init.keepalive) return answered;
    return answered.finally(() => setPending(pending().filter((p) => p.id !== request.id)));
  };

  navigator.sendBeacon = function sendBeacon(target, data) {
    // A Blob cannot be read before the page is gone: refused, the tracker uses keepalive.
    if (routeOf(new URL(String(target), location.href)) !== null) return false;
    return nativeBeacon ? nativeBeacon(target, data) : false;
  };
})();

// The loader of the npm package: adds the one embed tag to the page (once) and resolves
// with `window.timeback`. The runtime itself always comes from the app's own server (or a
// static host of its choosing): this package carries the loader and the types, not Pyodide.

const DEFAULT_SRC = "/timeback/timeback.js";
let loading = null;

/**
 * @param {{src?: string, base?: string, config?: string}} [options]
 * @returns {Promise<import("./timeback").Timeback>}
 */
export function loadTimeback(options = {}) {
  if (typeof window === "undefined") {
    // Server-side rendering: there is no page to track.
    return Promise.reject(new Error("loadTimeback() runs in a browser only"));
  }
  if (window.timeback) return Promise.resolve(window.timeback);
  if (loading) return loading;
  loading = new Promise((resolve, reject) => {
    const script = document.createElement("script");
    script.src = options.src ?? DEFAULT_SRC;
    if (options.base) script.dataset.base = options.base;
    if (options.config) script.dataset.config = options.config;
    script.onload = () =>
      window.timeback
        ? resolve(window.timeback)
        : reject(new Error(`${script.src} loaded but did not define window.timeback`));
    script.onerror = () => {
      loading = null; // a later call may try again, e.g. after the network is back
      script.remove();
      reject(new Error(`could not load ${script.src}`));
    };
    document.head.appendChild(script);
  });
  return loading;
}

// Where things are: everything is relative to this script's own URL, so the bundle can be
// served under any prefix.

// The runtime, the lock and the wheels sit in a folder named after their content, so
// servers may cache them as immutable; tracker build writes the folder's name here.
const RUNTIME_DIR = "";

/**
 * The runtime's URL and the options for the bridge, from the <script> tag's attributes.
 * Must run while the script first executes: `document.currentScript` is null afterwards.
 */
function locateEmbed(doc, pageUrl) {
  const script = doc.currentScript || doc.querySelector('script[src*="timeback.js"]');
  const scriptUrl = new URL(script ? script.src : "timeback.js", pageUrl);
  const bundleUrl = new URL("./", scriptUrl).href;
  const attribute = (name) => (script ? script.getAttribute(name) : null);
  const configAttr = attribute("data-config");
  return {
    runtimeUrl: new URL(RUNTIME_DIR, bundleUrl).href,
    options: {
      // data-api is accepted as another name for data-base.
      base: new URL(attribute("data-base") || attribute("data-api") || "/api/timeback", pageUrl)
        .href,
      configUrl: configAttr ? new URL(configAttr, pageUrl).href : null,
    },
  };
}

/*
 * timeback-pyscript.mjs: PyScript with the bundle's own runtime and wheels, offline.
 *
 *   <script type="module" src="/timeback/timeback-pyscript.mjs"></script>
 *   <script type="py">import tracker</script>
 *
 * Why not just <script type="py" config="/timeback/pyscript.json">: PyScript resolves
 * "interpreter" against the page's URL (only "packages" paths starting with "." are
 * resolved against the config file), so a config inside the bundle cannot name its own
 * pyodide.mjs without knowing where the bundle is mounted. This module reads
 * pyscript.json next to itself, makes every URL absolute, puts the result on the page's
 * first <script type="py"> (unless the page brings its own config: then it is left
 * alone), and only then loads PyScript, which reads its config once, when it loads.
 */
const bundle = new URL("./", import.meta.url);
const response = await fetch(new URL("pyscript.json", bundle));
if (!response.ok) throw new Error(`timeback: ${response.url}: HTTP ${response.status}`);
const config = await response.json();
config.interpreter = new URL(config.interpreter, bundle).href;
config.packages = config.packages.map((url) => new URL(url, bundle).href);

const pageHasConfig = document.querySelector('py-config, script[type="py"][config]');
const first = document.querySelector('script[type="py"]:not([worker])');
if (first && !pageHasConfig) first.setAttribute("config", JSON.stringify(config));
await import(new URL("pyscript/core.js", bundle).href);

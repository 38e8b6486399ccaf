// Runs the synchronous core unit tests (engine, models, config, wire) inside Pyodide under
// Node, from the browser bundle: the same sans-I/O core, the same pydantic wheel for
// pyemscripten, Python 3.14. The async driver is covered in Chromium by tests/e2e.
//
//   node tests/pyodide/run_core_tests.mjs BUNDLE_DIR WHEEL_DIR TEST_FILE...
import { readFileSync, readdirSync } from "node:fs";
import { resolve } from "node:path";

const [bundle, wheels, ...files] = process.argv.slice(2);
const { loadPyodide } = await import(resolve(bundle, "pyodide.mjs"));
const py = await loadPyodide({
  indexURL: resolve(bundle) + "/",
  lockFileURL: resolve(bundle, "pyodide-lock.json"),
  packages: ["lesson-time-tracker"],
});

// pytest and its pure-Python dependencies are test tools, not part of the bundle: unpack
// their wheels straight into site-packages.
for (const name of readdirSync(wheels).filter((n) => n.endsWith(".whl"))) {
  py.FS.writeFile(`/tmp/${name}`, readFileSync(resolve(wheels, name)));
}
py.FS.mkdirTree("/repo");
py.FS.mount(py.FS.filesystems.NODEFS, { root: resolve(".") }, "/repo");
const code = `
import glob, os, site, sys, zipfile
target = site.getsitepackages()[0]
for wheel in glob.glob("/tmp/*.whl"):
    zipfile.ZipFile(wheel).extractall(target)
sys.dont_write_bytecode = True  # the repo is mounted read-write: leave no __pycache__
os.chdir("/tmp")
import pytest
print(sys.version.split()[0], "on", sys.platform)
pytest.main(["-q", "-p", "no:cacheprovider", "--rootdir=/repo/tests", "-c", "/dev/null",
             *["/repo/" + f for f in ${JSON.stringify(files)}]])
`;
const status = await py.runPythonAsync(code);
process.exit(typeof status === "number" ? status : Number(status?.value ?? status ?? 0));

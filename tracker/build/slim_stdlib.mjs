// The embed's standard library: only the modules a session imports, as CPython 3.14
// bytecode compiled by the bundle's own Pyodide, in an uncompressed zip (the server sends
// it brotli-compressed, which beats the zip's own deflate and costs no inflate in Python).
//
//   node slim_stdlib.mjs RUNTIME_DIR LOCK_FILE OUT_ZIP SAFETY_JSON
//
// The keep-list is an import trace: the runtime boots as the embed boots it (the lock's
// wheels through Pyodide's package loader), imports tracker.browser.bridge, then runs the
// parts of a session that import lazily (validation errors, JSON, tracebacks, asyncio).
// Every module then in sys.modules that came from the stdlib zip is kept, plus the
// documented safety list (SAFETY_JSON: module names; a name keeps its whole package).
// Each kept .py becomes a sourceless unchecked-hash .pyc (PEP 552) at the same place:
// zipimport loads `name.pyc` without a source and checks nothing against mtimes.
import { readFileSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";

const [runtime, lock, out, safetyFile] = process.argv.slice(2);
const { loadPyodide } = await import(resolve(runtime, "pyodide.mjs"));
const log = [];
const py = await loadPyodide({
  indexURL: resolve(runtime) + "/",
  lockFileURL: resolve(lock),
  packages: ["lesson-time-tracker"],
  stdout: (line) => log.push(line),
  stderr: (line) => log.push(line),
});
if (!("lesson-time-tracker" in py.loadedPackages)) {
  console.error(log.join("\n"));
  throw new Error("the tracker wheel did not load under Node");
}
py.globals.set("SAFETY", JSON.parse(readFileSync(safetyFile, "utf8")));
py.runPython(`
import importlib.util, sys, zipfile
from importlib._bootstrap_external import _code_to_hash_pyc

import tracker.browser.bridge  # what the embed imports at boot

def _session():
    # What a session imports lazily after boot: model validation and its errors, the
    # wire's JSON, tracebacks of errors handed to the page, an asyncio round trip.
    import asyncio, json, traceback
    from pydantic import ValidationError
    from tracker.models import StartParams
    try:
        StartParams.model_validate({"id": "", "name": 3})
    except ValidationError as error:
        str(error), error.errors(), traceback.format_exc()
    json.loads(json.dumps({"a": [1, 2.5, None, "é"]}))
    asyncio.get_event_loop()

_session()

PREFIX = "/lib/python314.zip/"
source = zipfile.ZipFile(PREFIX.rstrip("/"))
names = set(source.namelist())
traced = set()
for module in list(sys.modules.values()):
    origin = getattr(getattr(module, "__spec__", None), "origin", None) or ""
    if origin.startswith(PREFIX):
        traced.add(origin.removeprefix(PREFIX))
for name in SAFETY.to_py():
    base = name.replace(".", "/")
    if base + ".py" in names:
        traced.add(base + ".py")
    elif base + "/__init__.py" in names:
        traced.update(n for n in names if n.startswith(base + "/") and n.endswith(".py"))
    else:
        raise SystemExit(f"safety list: {name} is not in the standard library zip")
# A package's __init__ for every kept module (importing a.b imports a first).
for path in list(traced):
    parts = path.split("/")[:-1]
    for depth in range(1, len(parts) + 1):
        init = "/".join(parts[:depth]) + "/__init__.py"
        if init in names:
            traced.add(init)

def build(out):
    kept = sorted(traced)
    folders = sorted({p.rsplit("/", 1)[0] + "/" for p in kept if "/" in p})
    with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as target:
        for folder in folders:  # zipimport finds packages by their folder entries
            target.writestr(zipfile.ZipInfo(folder, date_time=(1980, 1, 1, 0, 0, 0)), b"")
        for path in kept:
            text = source.read(path)
            code = compile(text, PREFIX + path, "exec", dont_inherit=True, optimize=2)
            data = _code_to_hash_pyc(code, importlib.util.source_hash(text), checked=False)
            info = zipfile.ZipInfo(path[:-3] + ".pyc", date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            target.writestr(info, data)
    return len(kept)
`);
const build = py.globals.get("build");
const kept = build("/tmp/slim.zip");
build.destroy();
writeFileSync(out, py.FS.readFile("/tmp/slim.zip"));
console.log(`${kept} modules`);

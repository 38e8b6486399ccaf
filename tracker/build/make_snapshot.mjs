// A Pyodide memory snapshot taken after `import tracker.browser.bridge`: the embed restores
// it instead of starting CPython, installing the wheels and importing pydantic (a 2-4 s
// main-thread task) at every page load.
//
//   node make_snapshot.mjs RUNTIME_DIR STDLIB_ZIP SIDE_MODULE_SO SIDE_MODULE_PATH OUT WHEEL...
//
// A snapshot is the wasm memory only. pydantic-core is a side module with its own wasm
// instance: its data lives in that memory and its functions in the table, so it must sit
// at the same address and table slots when the snapshot is made and whenever it is
// restored. It is therefore loaded at preRun, before CPython starts and before malloc
// runs, here and in web/src/runtime.js alike (loadSideModule below and there do the same).
// The table does not start equal: Chromium's runtime adds a trampoline slot that Node's
// does not. So the side module's table slots start at TABLE_BASE, a round number above
// what either adds, padded with empty slots; the restore checks the heap base is the same.
// Both numbers go to stdout as JSON, for snapshot.json, with the modules imported here
// (tracker/build/snapshot.py leaves them out of the stdlib zip the restored runtime gets).
// The wheels are unpacked by Python rather than by loadPackage: Pyodide refuses to
// snapshot a runtime whose JS-side package registry has changed.
import { readFileSync, writeFileSync } from "node:fs";
import { basename, resolve } from "node:path";

const [runtime, stdlib, sideModule, sidePath, out, ...wheels] = process.argv.slice(2);
const { loadPyodide } = await import(resolve(runtime, "pyodide.mjs"));
const createModule = (await import(resolve(runtime, "pyodide.asm.mjs"))).default;
const sideModuleBytes = readFileSync(sideModule);
const compiled = await WebAssembly.compile(sideModuleBytes);
const TABLE_ALIGN = 1024;
const TABLE_MARGIN = 256; // slots other runtimes may add before preRun
let layout = null;

async function loadSideModule(Module, path, module) {
  const dso = Module.newDSO(path, undefined, "loading");
  dso.refcount = Infinity; // never unloaded, as Pyodide's own dlopen would mark it
  dso.global = true;
  const flags = { loadAsync: true, global: true, nodelete: true, allowUndefined: true };
  const exports = await Module.loadWebAssemblyModule(module, flags, path, {});
  Module.mergeLibSymbols(exports, path);
  dso.exports = exports;
}

const py = await loadPyodide({
  indexURL: resolve(runtime) + "/",
  stdLibURL: resolve(stdlib),
  _makeSnapshot: true,
  createPyodideModule(settings) {
    settings.preRun.push(async (Module) => {
      Module.addRunDependency("side-module");
      try {
        const table = Module.wasmTable;
        const tableBase =
          Math.ceil((table.length + TABLE_MARGIN) / TABLE_ALIGN) * TABLE_ALIGN;
        const heapBase = Module.HEAPU32[Module._emscripten_get_sbrk_ptr() >>> 2];
        table.grow(tableBase - table.length);
        layout = { tableBase, heapBase };
        await loadSideModule(Module, sidePath, compiled);
      } finally {
        Module.removeRunDependency("side-module");
      }
    });
    return createModule(settings);
  },
});
for (const wheel of wheels) py.FS.writeFile(`/tmp/${basename(wheel)}`, readFileSync(wheel));
py.runPython(`
import glob, site, sys, zipfile
target = site.getsitepackages()[0]
for wheel in sorted(glob.glob("/tmp/*.whl")):
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(target)
import tracker.browser.bridge

# What a session imports lazily, imported now: a restored runtime has no site-packages
# files (the file system is not in the snapshot), only the modules already in memory.
import asyncio, json, traceback
from pydantic import ValidationError
from tracker.models import StartParams
try:
    StartParams.model_validate({"id": "", "name": 3})
except ValidationError as error:
    str(error), error.errors(), traceback.format_exc()
json.loads(json.dumps({"a": [1, 2.5, None, "é"]}))

# The restored runtime gets a smaller zip at the same path (only what is not imported by
# now): zipimport's index of this one, offsets included, must not be in the snapshot.
import zipimport
zipimport._zip_directory_cache.clear()
sys.path_importer_cache.clear()
`);
const modules = py.runPython("import sys; sorted(sys.modules)").toJs();
dropLibraryFileCopies(py._module, sideModuleBytes.length);
writeFileSync(out, py.makeMemorySnapshot());
console.log(JSON.stringify({ ...layout, modules }));

// Python's import of pydantic-core goes through Emscripten's dlopen, which finds the library
// already loaded by name but still reads the file into a malloc'd copy (`file_data` of its
// `struct dso`, read only while the library loads, i.e. never again). That copy was 4.7 MB of
// the snapshot's heap, ~1 MB compressed: zeroed (free() keeps a chunk's stale bytes) and
// freed, and the struct forgets it. The struct ends with the library's name, right after
// `file_data` and `file_data_size`; both are checked before anything is written.
function dropLibraryFileCopies(Module, sideModuleSize) {
  const heap = Module.HEAPU8;
  const words = Module.HEAPU32;
  const encoder = new TextEncoder();
  let dropped = 0;
  for (const [key, dso] of Object.entries(Module.LDSO.loadedLibsByHandle)) {
    const handle = Number(key);
    if (!handle || dso.name !== sidePath) continue;
    const name = encoder.encode(`${dso.name}\0`);
    let at = handle;
    const last = handle + 256;
    while (at < last && !name.every((byte, i) => heap[at + i] === byte)) at += 4;
    const data = words[(at - 8) >>> 2];
    const size = words[(at - 4) >>> 2];
    const isLibrary = size === sideModuleSize && heap[data + 1] === 0x61 && heap[data] === 0;
    if (at >= last || !isLibrary) {
      throw new Error(`${dso.name}: no file copy found in its struct dso at ${handle}`);
    }
    heap.fill(0, data, data + size);
    Module._free(data);
    words[(at - 8) >>> 2] = 0;
    words[(at - 4) >>> 2] = 0;
    dropped += 1;
  }
  // Pyodide's pin is exact: a runtime that stopped copying the file should be noticed.
  if (dropped !== 1) throw new Error(`${sidePath}: ${dropped} struct dso with a file copy`);
}

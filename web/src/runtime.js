// The loader: Pyodide from the versioned folder, with the tracker's wheels.
//
// Contract (the embed depends on nothing else): `loadRuntime(runtimeUrl, {onPhase})`
// resolves with the Pyodide API once the runtime runs and `tracker` (hence
// tracker.browser.bridge) is importable; it rejects with an Error naming what failed.
// `onPhase(name)` is called as the loader passes its own phases ("imported", "snapshot"
// or "packages") for performance marks; the embed marks runtime-loaded itself.
//
// Two ways up, the first preferred:
// - restore the build's memory snapshot (tracker/build/snapshot.py): Python already ran
//   `import tracker.browser.bridge`, so nothing is compiled or imported here;
// - the normal boot: start CPython, install the wheels of the lock, import on demand.
// The snapshot is used only when snapshot.json lists it, its bytes match their integrity
// and the restore succeeds; otherwise one console.warn says why and the normal boot runs.
//
// A classic-script piece: it declares functions for the file that includes it (tracker
// build concatenates web/src/ into one function scope) and touches no global.

// The embed's own standard library (tracker/build/stdlib.py): only the modules a session
// imports, as bytecode. Pyodide's full python_stdlib.zip stays next to it for PyScript.
const SLIM_STDLIB = "python_stdlib_slim.zip";
const TRACKER_DISTRIBUTION = "lesson-time-tracker"; // the distribution name (pyproject.toml)
const SNAPSHOT_MANIFEST = "snapshot.json";
const SNAPSHOT_FORMAT = 5; // of snapshot.json (tracker/build/snapshot.py FORMAT)

async function loadRuntime(runtimeUrl, { onPhase = () => {} } = {}) {
  // Started first: the snapshot downloads while pyodide.mjs loads, and Pyodide
  // instantiates the runtime while the snapshot's bytes are still arriving.
  const snapshot = fetchSnapshot(runtimeUrl, onPhase);
  snapshot.catch(() => {}); // looked at below; never an unhandled rejection
  const wasm = compileRuntime(runtimeUrl);
  wasm.catch(() => {}); // likewise
  // Side by side: the factory does not depend on the loader (one round trip, not two).
  const [{ loadPyodide }, { default: createModule }] = await Promise.all([
    import(`${runtimeUrl}pyodide.mjs`),
    import(`${runtimeUrl}pyodide.asm.mjs`),
  ]);
  onPhase("imported");
  try {
    const pyodide = await restoreSnapshot(loadPyodide, createModule, runtimeUrl, {
      arriving: snapshot,
      wasm,
      onPhase,
    });
    onPhase("snapshot");
    return pyodide;
  } catch (error) {
    warnNoSnapshot(error);
  }
  const pyodide = await bootFromWheels(loadPyodide, runtimeUrl);
  onPhase("packages");
  return pyodide;
}

// The runtime's wasm, its streaming compile started with the boot, beside the imports and
// the snapshot (the HTTP and V8 code caches serve it on a warm visit). Pyodide starts it
// only from inside its module factory, once both modules are in and after ~50-60 ms of
// set-up; its loader now only instantiates it (tracker/build/runtime_patch.py).
async function compileRuntime(runtimeUrl) {
  const answer = await fetchOk(runtimeUrl, "pyodide.asm.wasm");
  // Streaming needs the wasm's own Content-Type; a host that sends another still works.
  if (!answer.headers.get("content-type")?.startsWith("application/wasm")) {
    return WebAssembly.compile(await answer.arrayBuffer());
  }
  return WebAssembly.compileStreaming(answer);
}

function warnNoSnapshot(error) {
  console.warn(
    `timeback: the memory snapshot cannot be used (${error?.message}); ` +
      "booting without it (slower)",
  );
}

// A task boundary: the page's own input and rendering run between two boot phases.
function yieldToPage() {
  return new Promise((resolve) => setTimeout(resolve, 0));
}

// Resolves with the manifest's word as soon as it is read: the memory the snapshot needs
// (allocated here, empty), its layout, delta and stdlib zip, and two promises: `filled`
// when its bytes are in that memory and match their integrity, `sideModules` when those
// are compiled (their bytes are kept: the delta's base).
// Pyodide needs only the size to instantiate (INITIAL_MEMORY) and reads the bytes at
// restore, after preRun: the ~135 ms of instantiation overlap the download.
async function fetchSnapshot(runtimeUrl, onPhase) {
  const manifest = await (await fetchOk(runtimeUrl, SNAPSHOT_MANIFEST)).json();
  if (manifest.format !== SNAPSHOT_FORMAT) {
    throw new Error(`${SNAPSHOT_MANIFEST}: format ${manifest.format}, not ${SNAPSHOT_FORMAT}`);
  }
  const memory = new Uint8Array(manifest.snapshot.size);
  // The file is the snapshot's non-zero pages (tracker/build/snapshot_pack.py), 14 of its
  // 38 MB: received whole, its chunks (a task and a copy each) and a SHA-256 per piece
  // were ~140 ms of main-thread work on a warm load, and Pyodide's import finished
  // ~170 ms late behind them.
  const packed = new Uint8Array(manifest.snapshot.packedSize);
  const filled = fillChecked(runtimeUrl, manifest.snapshot, packed).then(() => {
    unpack(packed, manifest.snapshot.runs, memory);
    onPhase("snapshot-fetched");
  });
  // Compiled asynchronously, i.e. off the main thread, while the rest downloads.
  const sideModules = Promise.all(
    manifest.sideModules.map(async (side) => {
      const answer = await fetchOk(runtimeUrl, side.file);
      const bytes = await answer.arrayBuffer();
      await checkIntegrity(side.file, bytes, side.integrity);
      return { path: side.path, module: await WebAssembly.compile(bytes), bytes };
    }),
  );
  // Awaited in preRun; a failure before that must not be an unhandled rejection.
  filled.catch(() => {});
  sideModules.catch(() => {});
  return {
    memory,
    filled,
    sideModules,
    layout: manifest.layout,
    delta: manifest.snapshot.delta,
    stdlib: manifest.stdlib.file,
  };
}

async function fetchOk(runtimeUrl, file) {
  const answer = await fetch(`${runtimeUrl}${file}`);
  if (!answer.ok) throw new Error(`${file}: HTTP ${answer.status}`);
  return answer;
}

// The snapshot's file streamed into `memory`. Each piece of the manifest is hashed as soon
// as it has arrived, so only the last piece's hash is left when the download ends.
// Chromium hashes in the calling task (~5 ms per 4 MiB piece, traced as DoDigest): small
// pieces keep each of those tasks short.
async function fillChecked(runtimeUrl, { file, packedSize: size, pieceBytes, pieces }, memory) {
  if (pieces.length !== Math.ceil(size / pieceBytes)) {
    throw new Error(`${file}: ${pieces.length} pieces do not cover ${size} bytes`);
  }
  const reader = (await fetchOk(runtimeUrl, file)).body.getReader();
  const checks = [];
  let offset = 0;
  const checkArrived = () => {
    // Every piece that ends at or before `offset` and is not checked yet.
    while (checks.length < pieces.length) {
      const start = checks.length * pieceBytes;
      const end = Math.min(start + pieceBytes, size);
      if (end > offset) break;
      const name = `${file} bytes ${start}-${end}`;
      checks.push(checkIntegrity(name, memory.subarray(start, end), pieces[checks.length]));
    }
  };
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (offset + value.length > size) throw new Error(`${file}: more than ${size} bytes`);
      memory.set(value, offset);
      offset += value.length;
      checkArrived();
    }
    if (offset !== size) throw new Error(`${file}: ${offset} bytes, expected ${size}`);
  } finally {
    // Awaited below or abandoned with the error above: never unhandled.
    for (const check of checks) check.catch(() => {});
  }
  await Promise.all(checks);
}

// Subresource Integrity's format ("sha256-<base64>"), checked with WebCrypto rather than
// fetch's own `integrity` option: Chromium hashes an SRI response in one main-thread task
// (270 ms for the 38 MB snapshot); digest() per piece spreads that over the download.
async function checkIntegrity(file, bytes, integrity) {
  const [algorithm, expected] = String(integrity).split(/-(.*)/s);
  if (algorithm !== "sha256" || !expected) {
    throw new Error(`${file}: unsupported integrity ${integrity}`);
  }
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  const actual = btoa(String.fromCharCode(...digest));
  if (actual !== expected) {
    throw new Error(`${file}: integrity check failed (sha256 ${actual}, expected ${expected})`);
  }
}

// The snapshot's side modules (pydantic-core) must be where they were when it was made:
// loaded at preRun, before CPython starts and before malloc runs, in the order of the
// manifest, exactly as tracker/build/make_snapshot.mjs loads them, with their table
// slots from the manifest's tableBase (runtimes add different slots of their own first).
async function loadSideModule(Module, path, module) {
  const dso = Module.newDSO(path, undefined, "loading");
  dso.refcount = Infinity;
  dso.global = true;
  const flags = { loadAsync: true, global: true, nodelete: true, allowUndefined: true };
  const exports = await Module.loadWebAssemblyModule(module, flags, path, {});
  Module.mergeLibSymbols(exports, path);
  dso.exports = exports;
}

// Emscripten's instantiateWasm hook (Pyodide's own, wrapped): it returns {} and calls
// `success` later, so a task boundary fits on either side of the wasm's instantiation.
// Without them, the module factory's set-up (~45 ms), instantiating the wasm with the
// snapshot-sized memory (~40 ms) and Emscripten's receiveInstance (~90 ms) ran as one
// ~190 ms task, the longest of the boot. receiveInstance itself is cut in two by the
// build (tracker/build/runtime_patch.py).
// `instantiated(instance)` runs first, before any of the runtime's code.
function instantiateInTasks(instantiate, onPhase, instantiated = () => {}) {
  return (imports, success) => {
    yieldToPage().then(() =>
      instantiate(imports, (instance, module) => {
        instantiated(instance);
        onPhase("wasm-instantiated");
        yieldToPage().then(() => success(instance, module));
      }),
    );
    return {};
  };
}

async function restoreSnapshot(loadPyodide, createModule, runtimeUrl, { arriving, wasm, onPhase }) {
  // The manifest (started first, tiny) names the stdlib zip, so it is awaited here.
  let parts = await arriving;
  let runtime = null; // the delta's "runtime" bases, copied at instantiation
  // A failure inside preRun (bad bytes, another layout) cannot reject loadPyodide: that
  // module is left waiting on its run dependency, never run, and this rejects instead.
  let failRestore = null;
  const failed = new Promise((_, reject) => {
    failRestore = reject;
  });
  // Pyodide's hook only logs a failed instantiation and waits forever: fail here instead.
  wasm.catch((error) => failRestore(error));
  const loading = loadPyodide({
    indexURL: runtimeUrl,
    // The slim zip without what the snapshot imported (make_snapshot.mjs dropped
    // zipimport's index of the slim one, so this one is read on the first import).
    stdLibURL: `${runtimeUrl}${parts.stdlib}`,
    lockFileURL: `${runtimeUrl}pyodide-lock.json`,
    _loadSnapshot: parts.memory,
    _wasmModule: wasm,
    // Called (and awaited) by Pyodide once the manifest is in: returning a promise lets it
    // start in a task of its own.
    async createPyodideModule(settings) {
      await yieldToPage();
      settings.instantiateWasm = instantiateInTasks(
        settings.instantiateWasm,
        onPhase,
        (instance) => {
          // Inside Pyodide's hook an exception would only be logged: fail the restore.
          try {
            runtime = runtimeBases(parts.delta, instance.exports.memory.buffer);
          } catch (error) {
            failRestore(error);
          }
        },
      );
      settings.preRun.push(async (Module) => {
        onPhase("instantiated");
        Module.addRunDependency("timeback-snapshot");
        try {
          // Emscripten runs instantiation, preRun, the runtime's init and Pyodide's restore
          // back to back in one task unless a run dependency is pending: the yields and
          // awaits here cut it (side modules | init + restore).
          await yieldToPage();
          // The memory must hold the whole snapshot before it is copied in.
          Module._emscripten_resize_heap(parts.memory.length);
          const { tableBase, heapBase } = parts.layout;
          const table = Module.wasmTable;
          const heap = Module.HEAPU32[Module._emscripten_get_sbrk_ptr() >>> 2];
          if (heap !== heapBase || table.length > tableBase) {
            throw new Error(`runtime layout differs (heap ${heap}, table ${table.length})`);
          }
          table.grow(tableBase - table.length);
          const sides = await parts.sideModules;
          for (const side of sides) {
            await loadSideModule(Module, side.path, side.module);
          }
          onPhase("side-modules");
          await parts.filled;
          await yieldToPage();
          const files = sides.map((side) => side.bytes);
          await undoDelta(parts.memory, parts.delta, runtime, files);
          runtime = null;
          await yieldToPage(); // Pyodide copies the bytes in as soon as this dependency goes
        } catch (error) {
          failRestore(error);
          return;
        }
        Module.removeRunDependency("timeback-snapshot");
      });
      return createModule(settings);
    },
  });
  loading.catch(() => {}); // when `failed` wins, this one never settles or is not awaited
  const pyodide = await Promise.race([loading, failed]);
  parts = null; // the snapshot's 38 MB are in the wasm memory now: not kept twice
  onPhase("restored");
  await yieldToPage();
  // The snapshot froze the build machine's interpreter: every visitor would otherwise
  // draw the same "random" numbers. Reseeded from the browser's entropy; the import
  // proves the tracker is there.
  pyodide.runPython("import random, tracker.browser.bridge\nrandom.seed()");
  return pyodide;
}

async function bootFromWheels(loadPyodide, runtimeUrl) {
  const log = [];
  const pyodide = await loadPyodide({
    indexURL: runtimeUrl,
    stdLibURL: `${runtimeUrl}${SLIM_STDLIB}`,
    // Must be absolute: a relative lockFileURL fails with "Invalid base URL" and
    // loadPyodide still resolves, the failure showing only later as ModuleNotFoundError.
    lockFileURL: `${runtimeUrl}pyodide-lock.json`,
    // Listed here, the wheels download while the runtime boots.
    packages: [TRACKER_DISTRIBUTION],
    stdout: (line) => log.push(line), // "Loading ...", "Loaded ..." would litter the console
    stderr: (line) => {
      log.push(line);
      console.warn(line);
    },
  });
  pyodide.setStdout();
  pyodide.setStderr();
  // loadPyodide does not throw when a package fails to load (bad integrity, 404): it logs.
  const failed = log.filter((line) => /Failed to load|error occurred while loading/.test(line));
  if (failed.length || !(TRACKER_DISTRIBUTION in pyodide.loadedPackages)) {
    const details = failed.length ? log.join("\n") : "tracker is not in the lock";
    throw new Error(`could not load the Python packages:\n${details}`);
  }
  return pyodide;
}

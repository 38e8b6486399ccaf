// The loader: Pyodide from the versioned folder, with the tracker's wheels.
//
// Contract (the embed depends on nothing else): resolves with the Pyodide API once the
// runtime runs and the wheel "lesson-time-tracker" is installed; rejects with an Error
// naming what failed. `onPhase(name)` may be called as the loader passes its own phases
// (for performance marks); the embed marks runtime-loaded itself when this resolves.

async function loadRuntime(runtimeUrl, { onPhase = () => {} } = {}) {
  const { loadPyodide } = await import(`${runtimeUrl}pyodide.mjs`);
  onPhase("imported");
  const log = [];
  const pyodide = await loadPyodide({
    indexURL: runtimeUrl,
    // Must be absolute: a relative lockFileURL fails with "Invalid base URL" and
    // loadPyodide still resolves, the failure showing only later as ModuleNotFoundError.
    lockFileURL: `${runtimeUrl}pyodide-lock.json`,
    // Listed here, the wheels download while the runtime boots.
    packages: ["lesson-time-tracker"], // the distribution name (pyproject.toml)
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
  if (failed.length || !("lesson-time-tracker" in pyodide.loadedPackages)) {
    const details = failed.length ? log.join("\n") : "tracker is not in the lock";
    throw new Error(`could not load the Python packages:\n${details}`);
  }
  return pyodide;
}

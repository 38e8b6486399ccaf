"""``tracker build``: assembles the self-contained browser bundle.

Layout of the output folder (every URL inside it is relative, so it can be served under
any prefix):

    timeback.js             the one-tag embed (assembled from web/src/), naming the folder below
    timeback-pyscript.mjs   loads PyScript with this runtime and these wheels (from web/)
    r-<hash>/               named after the content hash of what it holds, so it can be
                            cached as immutable (docs/server.md):
      pyodide.mjs ...         the Pyodide runtime (npm package pyodide; edits that
                              keep the boot's tasks short: runtime_patch.py)
      python_stdlib_slim.zip  the embed's stdlib: only what a session imports, as bytecode
      pyodide-lock.json       our lock: exactly the wheels below, with sha256
      snapshot.bin            memory snapshot after `import tracker.browser.bridge` (a
                              delta against the runtime's and pydantic-core's data), and
      _pydantic_core...so     the library it needs at preRun; snapshot.json: their
                              integrity (tracker/build/snapshot.py)
      python_stdlib_rest.zip  the stdlib a restored runtime mounts: what it did not import
      *.whl                   pydantic & co. for Pyodide's platform, and the tracker itself
    pyscript/               PyScript's dist folder (npm package @pyscript/core)
    pyscript.json           PyScript config: the local runtime and wheels, relative to it
    bundle.json             versions and the list of files (to clean up the next build)

Files of 1 KB or more that compress (wasm, JavaScript, JSON, the snapshot) get brotli and gzip
siblings (``name.br``, ``name.gz``), and a zstd one (``name.zst``) where it is no larger than
the brotli one, that servers send as they are (tracker/build/compress.py).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import time
from pathlib import Path

from ..sources import PACKAGE_DIR, source_root
from . import pins
from .bytecode import precompile
from .compress import add_siblings
from .embed import assemble_embed, embed_sources
from .errors import BuildError
from .files import sha256_of
from .lockfile import LockEntry, canonical_name, pyodide_lock, pyscript_config, to_json
from .npm import extract
from .output import BundleOutput
from .progress import say
from .runtime_patch import patched_runtime
from .snapshot import MANIFEST_FILE as SNAPSHOT_MANIFEST
from .snapshot import SNAPSHOT_FILE, make_snapshot
from .snapshot import manifest as snapshot_manifest_of
from .snapshot import to_json as snapshot_json
from .stdlib import REST_STDLIB, SLIM_STDLIB, slim_stdlib
from .tracker_wheel import BuiltWheel, build_wheel
from .wheels import fetch_wheels

EMBED_SCRIPT = "timeback.js"
PYSCRIPT_LOADER = "timeback-pyscript.mjs"
LOCK_FILE = "pyodide-lock.json"
PYSCRIPT_DIR = "pyscript"
PYSCRIPT_CONFIG = "pyscript.json"
# The one line of timeback.js (web/src/location.js) that tracker build rewrites to name the
# versioned folder.
RUNTIME_DIR_LINE = 'const RUNTIME_DIR = "";'
# The wheel whose dynamic library the memory snapshot loads at preRun (snapshot.py).
SIDE_MODULE_WHEEL = next(pin.file_name for pin in pins.WHEELS if pin.name == "pydantic_core")


def build_bundle(out: str, cache: str, *, root: str | None = None) -> None:
    """Builds the bundle into ``out``, keeping downloads in ``cache``/timeback.

    ``root`` is the source tree (default: the one this package was loaded from).
    """
    started = time.monotonic()
    source = Path(root) if root else source_root()
    # The package itself is the one running (in a checkout: source / "tracker").
    package_dir = source / "tracker" if root else PACKAGE_DIR
    pyproject, web = source / "pyproject.toml", source / "web"
    for needed in (package_dir, pyproject, web / PYSCRIPT_LOADER):
        if not needed.exists():
            raise BuildError(f"{needed} not found: this tracker install is incomplete")
    embed_sources(web / "src")  # fail before the downloads, not after
    downloads = Path(cache) / "timeback"
    output = BundleOutput(Path(out))

    say(f"runtime: pyodide {pins.PYODIDE.version}")
    runtime = extract(
        pins.PYODIDE,
        downloads / "npm",
        lambda name: name in (*pins.PYODIDE_RUNTIME_FILES, pins.PYODIDE_UPSTREAM_LOCK),
        label="the runtime",
    )
    runtime = patched_runtime(
        runtime, (*pins.PYODIDE_RUNTIME_FILES, pins.PYODIDE_UPSTREAM_LOCK), downloads / "runtime"
    )
    lock_info = json.loads((runtime / pins.PYODIDE_UPSTREAM_LOCK).read_text())["info"]

    say(f"PyScript {pins.PYSCRIPT.version}")
    pyscript = extract(
        pins.PYSCRIPT,
        downloads / "npm",
        # Source maps are 3.6 MB that only a developer with DevTools open ever asks for.
        lambda name: (name.startswith("dist/") and not name.endswith(".map")) or name == "LICENSE",
        label="dist/",
    )
    for path in sorted(pyscript.rglob("*")):
        relative = path.relative_to(pyscript).as_posix()
        if path.is_file() and not relative.startswith("."):
            output.copy(f"{PYSCRIPT_DIR}/{relative.removeprefix('dist/')}", path)

    say(f"wheels: {', '.join(pin.requirement for pin in pins.WHEELS)}")
    downloaded = fetch_wheels(pins.WHEELS, downloads / "wheels")
    wheels = precompile(downloaded, runtime, pins.PYODIDE.version, downloads / "compiled")
    tracker = build_wheel(package_dir, pyproject)
    say(f"tracker wheel: {tracker.file_name}")
    # The pins check what was downloaded; the lock checks what the browser gets.
    entries = [
        LockEntry(
            pin.name,
            pin.version,
            pin.file_name,
            sha256_of(wheels[pin.name]),
            pin.imports,
            pin.depends,
        )
        for pin in pins.WHEELS
    ]
    entries.append(_tracker_entry(tracker))
    lock = to_json(pyodide_lock(lock_info, entries))
    sources = {name: runtime / name for name in pins.PYODIDE_RUNTIME_FILES}
    sources.update({pin.file_name: wheels[pin.name] for pin in pins.WHEELS})
    with tempfile.TemporaryDirectory() as tmp:
        tracker_path = Path(tmp) / tracker.file_name
        tracker_path.write_bytes(tracker.data)
        all_wheels = {name: path for name, path in sources.items() if name.endswith(".whl")} | {
            tracker.file_name: tracker_path
        }
        sources[SLIM_STDLIB] = slim_stdlib(runtime, lock, all_wheels, downloads / "stdlib")
        snapshot = make_snapshot(
            runtime,
            sources[SLIM_STDLIB],
            all_wheels,
            SIDE_MODULE_WHEEL,
            downloads / "snapshot",
        )
    sources[SNAPSHOT_FILE] = snapshot.snapshot
    sources[snapshot.side_module_file] = snapshot.side_module
    sources[REST_STDLIB] = snapshot.stdlib
    snapshot_manifest = snapshot_json(snapshot_manifest_of(snapshot))
    folder = runtime_folder(
        {name: sha256_of(path) for name, path in sources.items()}
        | {tracker.file_name: tracker.sha256}
    )
    output.write(folder + SNAPSHOT_MANIFEST, snapshot_manifest)
    for name, path in sources.items():
        output.copy(folder + name, path)
    output.write(folder + tracker.file_name, tracker.data)
    output.write(folder + LOCK_FILE, lock)
    output.write(
        PYSCRIPT_CONFIG, to_json(pyscript_config(pins.PYODIDE_RUNTIME_FILES[0], entries, folder))
    )
    output.write(EMBED_SCRIPT, stamp_embed(assemble_embed(web / "src"), folder).encode())
    output.copy(PYSCRIPT_LOADER, web / PYSCRIPT_LOADER)
    say("compressing (zstd, brotli, gzip)")
    add_siblings(output, set(output.files), downloads / "compressed")

    stale = output.finish(
        {
            "pyodide": pins.PYODIDE.version,
            "pyscript": pins.PYSCRIPT.version,
            "tracker": tracker.version,
            "wheels": {pin.name: pin.version for pin in pins.WHEELS},
        }
    )
    if stale:
        # A new versioned folder replaces the whole old one: name the folders, not each file.
        gone = sorted({name.split("/")[0] if "/" in name else name for name in stale})
        say(f"removed {len(stale)} stale file(s): {', '.join(gone)}")
    say(
        f"bundle ready in {out}: {len(output.files)} files, {output.size() / 1e6:.1f} MB, "
        f"{output.changed} written, {time.monotonic() - started:.1f} s"
    )


def runtime_folder(checksums: dict[str, str]) -> str:
    """The versioned folder's name: a hash of every file name and sha256 it holds.

    The lock is left out: it is derived from the same wheels, so it changes only with them.
    """
    digest = hashlib.sha256()
    for name in sorted(checksums):
        digest.update(f"{name} {checksums[name]}\n".encode())
    return f"r-{digest.hexdigest()[:16]}/"


def stamp_embed(source: str, folder: str) -> str:
    """timeback.js with the versioned folder's name in its one RUNTIME_DIR line."""
    if source.count(RUNTIME_DIR_LINE) != 1:
        raise BuildError(f"{EMBED_SCRIPT}: expected the line {RUNTIME_DIR_LINE!r} once")
    return source.replace(RUNTIME_DIR_LINE, f'const RUNTIME_DIR = "{folder}";')


def _tracker_entry(tracker: BuiltWheel) -> LockEntry:
    """The tracker's lock entry; its dependencies must be among the pinned wheels."""
    pinned = {canonical_name(pin.name): pin.name for pin in pins.WHEELS}
    depends = []
    for name in tracker.project.dependency_names:
        if canonical_name(name) not in pinned:
            raise BuildError(
                f"pyproject.toml: the tracker depends on {name}, which has no browser wheel "
                "pinned in tracker/build/pins.py"
            )
        depends.append(pinned[canonical_name(name)])
    return LockEntry(
        name=tracker.project.name,
        version=tracker.version,
        file_name=tracker.file_name,
        sha256=tracker.sha256,
        imports=("tracker",),
        depends=tuple(depends),
    )

"""The static demo's in-page server needs more of the standard library than the embed's.

The embed imports from its slim standard library (tracker/build/stdlib.py), which lacks
what the server imports (sqlite3, http.cookies, ...). ``extend_stdlib`` puts Pyodide's full
``python_stdlib.zip`` after it on ``sys.path`` and adds the matching folder of the full zip
to each package already imported from the slim one, so their missing submodules are found
too. It imports nothing beyond ``sys``: it runs before the rest of tracker.demo can.
"""

from __future__ import annotations

import sys

ZIP = ".zip/"


def extend_stdlib(full_zip: str) -> None:
    """Makes every module of ``full_zip`` importable next to the ones already imported."""
    if full_zip not in sys.path:
        sys.path.append(full_zip)
    for module in list(sys.modules.values()):
        paths = getattr(module, "__path__", None)
        if not isinstance(paths, list):
            continue
        for entry in list(paths):
            if ZIP in entry and not entry.startswith(full_zip):
                extra = f"{full_zip}/{entry.split(ZIP, 1)[1]}"
                if extra not in paths:
                    paths.append(extra)

"""``tracker build``: the self-contained browser bundle (Pyodide, PyScript, wheels, embed)."""

from __future__ import annotations

from .bundle import build_bundle
from .errors import BuildError

__all__ = ["BuildError", "build_bundle"]

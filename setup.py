"""Packaging step pyproject.toml cannot express: the wheel carries ``web/`` and
``pyproject.toml`` as ``tracker/_source/``, so an installed tracker can build the browser
bundle and serve the demo without the repository (tracker/sources.py finds them)."""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
# Test and build leftovers that may sit in web/ of a working tree.
IGNORED = shutil.ignore_patterns("node_modules", "__pycache__", "*.pyc", ".*")


class BuildWithSources(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the checkout itself
            return
        target = Path(self.build_lib) / "tracker" / "_source"
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(ROOT / "web", target / "web", ignore=IGNORED)
        for name in ("pyproject.toml", "LICENSE", "README.md"):
            shutil.copy2(ROOT / name, target / name)


setup(cmdclass={"build_py": BuildWithSources})

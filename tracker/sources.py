"""Where the files beside the Python package are: the checkout, or the wheel's copy of them.

``tracker build`` needs ``web/`` (the embed, the demo, the npm package) and
``pyproject.toml`` (the browser wheel's metadata); ``tracker demo`` needs ``web/demo``. In a
checkout they sit next to ``tracker/``; an installed wheel carries a copy in
``tracker/_source/`` (written by setup.py's build step), so ``pip install`` gives the same
commands without the repository.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
INSTALLED_COPY = PACKAGE_DIR / "_source"


def source_root() -> Path:
    """The folder holding ``web/`` and ``pyproject.toml`` for this ``tracker`` package."""
    checkout = PACKAGE_DIR.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "web").is_dir():
        return checkout
    return INSTALLED_COPY

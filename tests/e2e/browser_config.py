"""Loads the top-level playwright.config.py, whose name is no valid module name."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

CONFIG_PATH = Path(__file__).resolve().parents[2] / "playwright.config.py"
_NAME = "timeback_playwright_config"


def load() -> ModuleType:
    if _NAME in sys.modules:
        return sys.modules[_NAME]
    spec = importlib.util.spec_from_file_location(_NAME, CONFIG_PATH)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {CONFIG_PATH}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[_NAME] = module  # dataclasses & co. look their module up here
    spec.loader.exec_module(module)
    return module

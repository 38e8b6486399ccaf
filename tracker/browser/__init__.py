"""The browser adapter: the only package that imports ``js`` and ``pyodide``.

In a PyScript lesson page::

    from tracker.browser import activity
    await activity.ready()              # once: loads the config, resends stored windows
    lesson = activity.start(id="fractions-1", name="Fractions",
                            course={"subject": "Math", "grade": 3},
                            on_pause=show_overlay)
    ...
    await lesson.end({"xp_earned": 8})
"""

from __future__ import annotations

from .api import activity

__all__ = ["activity"]

"""P3: unacknowledged windows in ``localStorage``, which outlives the page."""

from __future__ import annotations

import js


class LocalStorage:
    """Every call may raise (storage disabled, quota exceeded): the outbox copes."""

    def get(self, key: str) -> str | None:
        value = js.localStorage.getItem(key)
        return None if value is None else str(value)

    def set(self, key: str, value: str) -> None:
        js.localStorage.setItem(key, value)

    def remove(self, key: str) -> None:
        js.localStorage.removeItem(key)

    def list_keys(self) -> list[str]:
        store = js.localStorage
        return [str(store.key(i)) for i in range(int(store.length))]

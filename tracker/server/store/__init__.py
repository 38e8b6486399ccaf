"""The tracker's store: SQLite (a file path, the embedded default) or PostgreSQL (a URL).

All SQL lives in this package. ``Store(location, forward=...)`` opens the backend that the
location names; both run the same migrations and constraints behind one interface (``base``).
"""

from __future__ import annotations

from .base import Location, Store, is_postgres_url
from .schema import (
    MIGRATIONS,
    POSTGRES_MIGRATIONS,
    SCHEMA_VERSION,
    SQLITE_MIGRATIONS,
    TABLES,
    OutboxItem,
    PriorCompletion,
    Progress,
    StoredEvent,
    StoreError,
)
from .tx import PostgresTx, Tx

__all__ = [
    "MIGRATIONS",
    "POSTGRES_MIGRATIONS",
    "SCHEMA_VERSION",
    "SQLITE_MIGRATIONS",
    "TABLES",
    "Location",
    "OutboxItem",
    "PostgresTx",
    "PriorCompletion",
    "Progress",
    "Store",
    "StoreError",
    "StoredEvent",
    "Tx",
    "is_postgres_url",
]

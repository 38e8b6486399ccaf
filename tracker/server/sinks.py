"""Where events go after the pipeline stored them: the interface and the embedded sink.

Every event is written to the SQLite store first, in the transaction that acknowledges the
request. A sink only decides what happens next: nothing (embedded: the store is the Caliper
record), or forwarding from the outbox to a remote endpoint (``outbox.CaliperSink``).
"""

from __future__ import annotations

from typing import Protocol


class Sink(Protocol):
    def notify(self) -> None:
        """New events were committed."""

    async def start(self) -> None:
        """Starts background work in the running event loop; calling it again is harmless."""

    async def aclose(self) -> None:
        """Stops background work; queued events stay in the store for the next start."""


class EmbeddedSink:
    """The default: the SQLite store holds every event; nothing leaves the process."""

    def notify(self) -> None:
        return None

    async def start(self) -> None:
        return None

    async def aclose(self) -> None:
        return None

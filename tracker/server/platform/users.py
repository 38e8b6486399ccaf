"""Email -> Timeback user, through OneRoster, cached for a while.

A user is looked up on every heartbeat by the official server; here one lookup serves
``ttl_s`` seconds of requests (a window every 15 s would otherwise be a OneRoster call each).
Only found users are cached: an unknown email may be rostered a minute later.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio

from ..caliper import normalize_email
from .roster import OneRosterClient, RosterError, RosterUser

USER_RESOLUTION_FAILED = "USER_RESOLUTION_FAILED"
USER_AMBIGUOUS = "USER_AMBIGUOUS"
USER_NOT_FOUND = "USER_NOT_FOUND"
MISSING_SYNCED_COURSE_ID = "MISSING_SYNCED_COURSE_ID"


class UserNotFoundError(Exception):
    """No Timeback user has this email."""


class UserAmbiguousError(Exception):
    """More than one Timeback user has this email; picking one would misattribute time."""


class UserLookupError(Exception):
    """OneRoster could not answer."""


class UserDirectory:
    def __init__(
        self,
        roster: OneRosterClient,
        *,
        ttl_s: float = 300.0,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 10_000,
    ) -> None:
        self._roster = roster
        self._ttl_s = ttl_s
        self._clock = clock
        self._max_entries = max_entries
        self._cache: dict[str, tuple[float, RosterUser]] = {}
        self._lock = anyio.Lock()
        self.lookups = 0

    async def resolve(self, email: str) -> RosterUser:
        key = normalize_email(email)
        now = self._clock()
        hit = self._cache.get(key)
        if hit is not None and now < hit[0]:
            return hit[1]
        async with self._lock:
            self.lookups += 1
            try:
                users = await self._roster.users_by_email(key)
            except RosterError as exc:
                raise UserLookupError(str(exc)) from None
        if not users:
            raise UserNotFoundError(key)
        if len(users) > 1:
            raise UserAmbiguousError(key)
        if len(self._cache) >= self._max_entries:
            # Expired entries go first; a full cache of live ones is simply started over.
            self._cache = {k: v for k, v in self._cache.items() if v[0] > now} or {}
            if len(self._cache) >= self._max_entries:
                self._cache.clear()
        self._cache[key] = (now + self._ttl_s, users[0])
        return users[0]

"""Timeback platform mode (issue 9): the server as the app server of a real Timeback app.

Users are resolved by email through OneRoster (cached), actors and courses are OneRoster
URLs, events go to the platform's Caliper endpoint through the outbox. Embedded mode (no
account, ``mailto:`` actors) needs none of this and stays the default.
"""

from .actors import ActorSource, EmbeddedActors, PlatformActors
from .roster import OneRosterClient, RosterUser
from .urls import ROSTERING_PATH, PlatformUrls, default_urls
from .users import (
    MISSING_SYNCED_COURSE_ID,
    USER_AMBIGUOUS,
    USER_RESOLUTION_FAILED,
    UserAmbiguousError,
    UserDirectory,
    UserLookupError,
    UserNotFoundError,
)

__all__ = [
    "MISSING_SYNCED_COURSE_ID",
    "ROSTERING_PATH",
    "USER_AMBIGUOUS",
    "USER_RESOLUTION_FAILED",
    "ActorSource",
    "EmbeddedActors",
    "OneRosterClient",
    "PlatformActors",
    "PlatformUrls",
    "RosterUser",
    "UserAmbiguousError",
    "UserDirectory",
    "UserLookupError",
    "UserNotFoundError",
    "default_urls",
]

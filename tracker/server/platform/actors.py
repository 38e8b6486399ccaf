"""Who the events name: a ``mailto:`` actor (embedded) or a OneRoster user (platform)."""

from __future__ import annotations

from typing import Any, Protocol

from ...config import CourseConfig
from ..caliper import Actor, actor_iri
from ..errors import ApiError
from .roster import RosterUser
from .urls import PlatformUrls
from .users import (
    MISSING_SYNCED_COURSE_ID,
    USER_AMBIGUOUS,
    USER_NOT_FOUND,
    USER_RESOLUTION_FAILED,
    UserAmbiguousError,
    UserDirectory,
    UserLookupError,
    UserNotFoundError,
)

# The official message: it names no email, so a probing client learns nothing from it.
_UNRESOLVED = "Unable to resolve Timeback identity"


class ActorSource(Protocol):
    # Platform mode: the OneRoster courses URL (course IRIs hang below it); else None.
    roster_courses_url: str | None

    async def actor(self, email: str) -> Actor:
        """The actor of a signed-in user; raises ApiError when there is none."""
        ...

    def check_course(self, course: CourseConfig, env: str) -> None:
        """Raises ApiError when events for ``course`` cannot be sent in ``env``."""
        ...

    async def backend_actor(self, email: str, timeback_id: str | None) -> Actor:
        """The actor of ``record()``: the backend may name the Timeback id itself."""
        ...

    async def verify(self, email: str) -> dict[str, Any]:
        """The ``/user/verify`` answer: ``{verified, timebackId}`` and our ``email, actorId``."""
        ...

    async def roster_user(self, email: str) -> RosterUser | None:
        """The user's roster record for ``/user/me`` (None in embedded mode)."""
        ...


class EmbeddedActors:
    roster_courses_url: str | None = None

    async def actor(self, email: str) -> Actor:
        return Actor(email)

    def check_course(self, course: CourseConfig, env: str) -> None:
        return None

    async def backend_actor(self, email: str, timeback_id: str | None) -> Actor:
        return Actor(email, timeback_id)

    async def verify(self, email: str) -> dict[str, Any]:
        # Embedded mode knows no Timeback account: the id is null, the local identity is in
        # email and actorId.
        return {"verified": True, "timebackId": None, "email": email, "actorId": actor_iri(email)}

    async def roster_user(self, email: str) -> RosterUser | None:
        return None


class PlatformActors:
    def __init__(self, directory: UserDirectory, urls: PlatformUrls) -> None:
        self.directory = directory
        self.urls = urls
        self.roster_courses_url: str | None = urls.courses_url

    async def actor(self, email: str) -> Actor:
        """404 unknown and 409 ambiguous, as the official; 502 when OneRoster fails."""
        try:
            user = await self.directory.resolve(email)
        except UserNotFoundError:
            raise ApiError(404, USER_RESOLUTION_FAILED, _UNRESOLVED) from None
        except UserAmbiguousError:
            raise ApiError(409, USER_RESOLUTION_FAILED, _UNRESOLVED) from None
        except UserLookupError as exc:
            raise ApiError(502, USER_RESOLUTION_FAILED, str(exc)) from None
        return Actor(email, user.sourced_id, iri=self.urls.user_url(user.sourced_id))

    async def backend_actor(self, email: str, timeback_id: str | None) -> Actor:
        if timeback_id:
            return Actor(email, timeback_id, iri=self.urls.user_url(timeback_id))
        return await self.actor(email)

    async def verify(self, email: str) -> dict[str, Any]:
        """Unknown -> ``{"verified": false}``; ambiguous -> 409 ``USER_AMBIGUOUS`` (official)."""
        try:
            user = await self.directory.resolve(email)
        except UserNotFoundError:
            return {"verified": False}
        except UserAmbiguousError:
            raise ApiError(409, USER_AMBIGUOUS, "Timeback user resolution ambiguous") from None
        except UserLookupError as exc:
            raise ApiError(502, USER_RESOLUTION_FAILED, str(exc)) from None
        return {
            "verified": True,
            "timebackId": user.sourced_id,
            "email": email,
            "actorId": self.urls.user_url(user.sourced_id),
        }

    async def roster_user(self, email: str) -> RosterUser | None:
        """Unknown -> 404 ``USER_NOT_FOUND``, ambiguous -> 409, as the official ``/user/me``."""
        try:
            return await self.directory.resolve(email)
        except UserNotFoundError:
            raise ApiError(404, USER_NOT_FOUND, "Timeback user not found") from None
        except UserAmbiguousError:
            raise ApiError(409, USER_AMBIGUOUS, "Timeback user resolution ambiguous") from None
        except UserLookupError as exc:
            raise ApiError(502, USER_RESOLUTION_FAILED, str(exc)) from None

    def check_course(self, course: CourseConfig, env: str) -> None:
        """Events name the course by its OneRoster id: a course not pushed has none (503)."""
        if not course.ids.get(env):
            raise ApiError(
                503,
                MISSING_SYNCED_COURSE_ID,
                f'Course "{course.display_name}" has no course id for {env} (ids.{env}); '
                "push the course to Timeback first",
            )

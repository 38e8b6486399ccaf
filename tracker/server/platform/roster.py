"""The one OneRoster call the server needs: users by email."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from ..oauth import TokenError, TokenSource
from .urls import PlatformUrls


class RosterError(Exception):
    """OneRoster could not be asked (unreachable, token refused, odd answer)."""


@dataclass(frozen=True)
class RosterUser:
    sourced_id: str
    email: str
    given_name: str | None = None
    family_name: str | None = None
    grades: tuple[int, ...] = ()

    @property
    def name(self) -> str | None:
        parts = [part for part in (self.given_name, self.family_name) if part]
        return " ".join(parts) or None

    @property
    def grade(self) -> int | None:
        """The highest grade on record, as the official profile reports it."""
        return max(self.grades) if self.grades else None

    @classmethod
    def from_json(cls, data: Any, fallback_email: str) -> RosterUser:
        if not isinstance(data, dict) or not isinstance(data.get("sourcedId"), str):
            raise RosterError("OneRoster user without sourcedId")
        grades: list[int] = []
        for grade in data.get("grades") or []:
            try:
                grades.append(int(grade))
            except (TypeError, ValueError):
                continue  # a grade like "PK" has no number; it cannot be the maximum
        return cls(
            sourced_id=data["sourcedId"],
            email=str(data.get("email") or fallback_email),
            given_name=data.get("givenName") if isinstance(data.get("givenName"), str) else None,
            family_name=data.get("familyName") if isinstance(data.get("familyName"), str) else None,
            grades=tuple(grades),
        )


def email_filter(email: str) -> str:
    """OneRoster filter syntax (1.2 §3.4.1): string values in single quotes, quotes doubled."""
    return "email='{}'".format(email.replace("'", "''"))


class OneRosterClient:
    def __init__(self, client: httpx.AsyncClient, urls: PlatformUrls, tokens: TokenSource) -> None:
        self._client = client
        self._urls = urls
        self._tokens = tokens

    async def users_by_email(self, email: str, *, limit: int = 2) -> list[RosterUser]:
        """Up to ``limit`` users with this email (two are enough to see an ambiguity)."""
        try:
            token = await self._tokens.get()
            response = await self._client.get(
                f"{self._urls.rostering}/users",
                params={"filter": email_filter(email), "limit": str(limit)},
                headers={"Authorization": f"Bearer {token}"},
            )
            if response.status_code == 401:
                self._tokens.drop()
            response.raise_for_status()
            users = response.json().get("users")
        except (TokenError, httpx.HTTPError, ValueError, AttributeError) as exc:
            raise RosterError(f"OneRoster users lookup failed: {exc}") from None
        if not isinstance(users, list):
            raise RosterError("OneRoster answered without a users list")
        return [RosterUser.from_json(user, email) for user in users]

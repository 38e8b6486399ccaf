"""OAuth2 client-credentials tokens for the Caliper endpoint (wire §2)."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import httpx

from ..errors import TrackerError

DEFAULT_EXPIRES_S = 300.0


class TokenError(TrackerError):
    """No token: the token endpoint failed or answered something unusable."""


class TokenSource:
    """Fetches a token with HTTP Basic ``client_id:client_secret`` and caches it.

    The cache ends shortly before ``expires_in`` so that a token never expires in flight; a 401
    from the Caliper endpoint calls ``drop()``.
    """

    def __init__(
        self,
        client: httpx.AsyncClient,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._url = token_url
        self._auth = httpx.BasicAuth(client_id, client_secret)
        self._clock = clock
        self._token: str | None = None
        self._valid_until = 0.0
        self._lock = anyio.Lock()

    def drop(self) -> None:
        self._token = None

    async def get(self) -> str:
        async with self._lock:
            if self._token is not None and self._clock() < self._valid_until:
                return self._token
            self._token = None
            token, expires_in = await self._fetch()
            # Renew at 90 % of the lifetime, at most a minute early.
            margin = min(60.0, expires_in * 0.1)
            self._token, self._valid_until = token, self._clock() + expires_in - margin
            return token

    async def _fetch(self) -> tuple[str, float]:
        try:
            response = await self._client.post(
                self._url, auth=self._auth, data={"grant_type": "client_credentials"}
            )
        except httpx.HTTPError as exc:
            raise TokenError(f"token endpoint unreachable: {exc!r}") from None
        if response.status_code != 200:
            raise TokenError(f"token endpoint answered {response.status_code}")
        try:
            payload = response.json()
            token = payload["access_token"]
            expires_in = float(payload.get("expires_in") or DEFAULT_EXPIRES_S)
        except (ValueError, KeyError, TypeError, AttributeError):
            raise TokenError("token endpoint answered without an access_token") from None
        if not isinstance(token, str) or not token or not expires_in > 0:
            raise TokenError("token endpoint answered an unusable token")
        return token, expires_in

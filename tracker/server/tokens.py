"""HS256 JSON Web Tokens, verified with the standard library (RFC 7519 / RFC 7515).

Only what ``tracker serve`` needs to trust a sign-in made elsewhere: the app's login signs a
token with a shared key (``TRACKER_JWT_KEY``); this checks the signature, the algorithm (HS256
only: ``none`` and public-key algorithms are refused, so a token cannot pick its own rules),
``exp`` (required), ``nbf``, and ``aud`` / ``iss`` when configured.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Collection
from typing import Any

# Clocks of two servers differ a little; a token is not refused for that.
LEEWAY_S = 60
MAX_TOKEN_LENGTH = 8192


class TokenInvalidError(ValueError):
    """The token is malformed, badly signed, expired or for someone else (say which)."""


def _b64decode(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise TokenInvalidError("not base64url") from None


def b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _json_part(part: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(_b64decode(part))
    except ValueError:
        raise TokenInvalidError(f"{name} is not JSON") from None
    if not isinstance(value, dict):
        raise TokenInvalidError(f"{name} is not an object")
    return value


def sign_hs256(claims: dict[str, Any], key: str) -> str:
    """A compact HS256 token (for tests and for apps that want to mint one in Python)."""
    header = b64encode(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    payload = b64encode(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header}.{payload}".encode("ascii")
    signature = hmac.new(key.encode("utf-8"), signing_input, hashlib.sha256).digest()
    return f"{header}.{payload}.{b64encode(signature)}"


def _number(claims: dict[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenInvalidError(f"{name} is not a number")
    return float(value)


def verify_hs256(
    token: str,
    key: str,
    *,
    now_s: float,
    audience: Collection[str] = (),
    issuer: str | None = None,
) -> dict[str, Any]:
    """The token's claims, or TokenInvalidError."""
    if len(token) > MAX_TOKEN_LENGTH:
        raise TokenInvalidError("too long")
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenInvalidError("not a compact JWS (three parts)")
    header_part, payload_part, signature_part = parts
    header = _json_part(header_part, "header")
    if header.get("alg") != "HS256":
        raise TokenInvalidError("alg is not HS256")
    if "crit" in header:
        raise TokenInvalidError("crit headers are not supported")
    signing_input = f"{header_part}.{payload_part}".encode("ascii", errors="replace")
    expected = hmac.new(key.encode("utf-8"), signing_input, hashlib.sha256).digest()
    if not hmac.compare_digest(expected, _b64decode(signature_part)):
        raise TokenInvalidError("bad signature")
    claims = _json_part(payload_part, "payload")
    exp = _number(claims, "exp")
    if exp is None:
        raise TokenInvalidError("exp is missing (tokens must expire)")
    if now_s > exp + LEEWAY_S:
        raise TokenInvalidError("expired")
    nbf = _number(claims, "nbf")
    if nbf is not None and now_s + LEEWAY_S < nbf:
        raise TokenInvalidError("not valid yet (nbf)")
    if audience:
        aud = claims.get("aud")
        given = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
        if not any(isinstance(a, str) and a in audience for a in given):
            raise TokenInvalidError("aud does not name this server")
    if issuer is not None and claims.get("iss") != issuer:
        raise TokenInvalidError("iss is not the configured issuer")
    return claims

"""The one error ``tracker build`` raises: it says what failed and what to do about it."""

from __future__ import annotations


class BuildError(RuntimeError):
    """The bundle could not be assembled (a download failed, a checksum did not match...)."""

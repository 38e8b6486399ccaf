"""Where the Timeback platform lives, per env, and the OneRoster URLs events name."""

from __future__ import annotations

from dataclasses import dataclass

# OneRoster 1.2 rostering base path; user and course URLs in events hang below it.
ROSTERING_PATH = "/ims/oneroster/rostering/v1p2"


@dataclass(frozen=True)
class PlatformUrls:
    """``api``: OneRoster/EduBridge base; ``caliper``: Caliper base; ``token``: OAuth2 token."""

    api: str
    caliper: str
    token: str

    @property
    def rostering(self) -> str:
        return f"{self.api.rstrip('/')}{ROSTERING_PATH}"

    def user_url(self, sourced_id: str) -> str:
        """The actor id of a Timeback user, as the official server builds it."""
        return f"{self.rostering}/users/{sourced_id}"

    @property
    def courses_url(self) -> str:
        return f"{self.rostering}/courses"


# The public Timeback (BeyondAI) endpoints, the defaults of the official SDK's env setting.
_DEFAULTS: dict[str, PlatformUrls] = {
    "staging": PlatformUrls(
        api="https://api.staging.alpha-1edtech.ai",
        caliper="https://caliper.staging.alpha-1edtech.ai",
        token="https://staging-beyond-timeback-api-2-idp.auth.us-east-1.amazoncognito.com/oauth2/token",
    ),
    "production": PlatformUrls(
        api="https://api.alpha-1edtech.ai",
        caliper="https://caliper.alpha-1edtech.ai",
        token="https://prod-beyond-timeback-api-2-idp.auth.us-east-1.amazoncognito.com/oauth2/token",
    ),
}


def default_urls(env: str) -> PlatformUrls:
    """The platform of ``env`` (``staging`` or ``production``; ``local`` is staging)."""
    return _DEFAULTS["staging" if env in ("local", "staging") else "production"]

"""DRF throttles whose rates are read from settings at request time (tests can change them)."""

from __future__ import annotations

from django.conf import settings
from rest_framework.throttling import AnonRateThrottle, UserRateThrottle


class _SettingsRate:
    scope: str

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_RATES.get(self.scope) or None


class UserThrottle(_SettingsRate, UserRateThrottle):
    """Per signed-in user or token holder."""


class AnonThrottle(_SettingsRate, AnonRateThrottle):
    """Per client address, for requests without credentials."""

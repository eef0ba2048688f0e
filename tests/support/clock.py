"""A moved clock: what ``django.utils.timezone.now`` answers from here on."""

from __future__ import annotations

import datetime

from django.utils import timezone


def move_clock(monkeypatch, hours: float) -> datetime.datetime:
    """Every timezone.now() from here on answers ``hours`` later (the clock stands there);
    returns that moment."""
    moment = timezone.now() + datetime.timedelta(hours=hours)
    monkeypatch.setattr(timezone, "now", lambda: moment)
    return moment

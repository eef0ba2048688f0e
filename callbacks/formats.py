"""Formats shared by payload producers and the delivery engine."""

from __future__ import annotations

import datetime


def camio_date(moment: datetime.datetime) -> str:
    """Format a time as Camio does: 2021-04-30T19:13:42.317-0000 (UTC, milliseconds)."""
    moment = moment.astimezone(datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}-0000"

"""Template filters of the portal's pages."""

from __future__ import annotations

import re

from django import template
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from callbacks.models import LATENCY_BOUNDS_MS
from domains import charts
from domains.formats import mask_url

register = template.Library()


@register.filter
def duration(milliseconds: int | None) -> str:
    """An attempt's duration as people read it: "< 1 ms" for what rounds to 0, "1,250 ms"."""
    if milliseconds is None:
        return "—"
    return "< 1 ms" if milliseconds < 1 else f"{milliseconds:,} ms"


@register.filter
def volume_chart(hours: list) -> object:
    """The deliveries-per-hour chart of a filtered delivery log's last 24 hours."""
    return charts.volume_chart(hours)


@register.filter
def latency_chart(hours: list) -> object:
    """The attempt-latency chart of an endpoint's last 24 hours (None: nothing sent)."""
    return charts.latency_chart(hours)


@register.filter
def health_chart(hours: list) -> object:
    """The health chart of an endpoint's last 24 hours (callbacks.endpoint_health)."""
    return charts.health_chart(hours)


@register.filter
def bound(milliseconds: int | None) -> str:
    """A latency bucket's upper bound: "≤ 20 ms", or "> 10,000 ms" past the last one."""
    if milliseconds is None:
        return "—"
    last = LATENCY_BOUNDS_MS[-1]
    return f"> {last:,} ms" if milliseconds > last else f"≤ {duration(milliseconds)}"


@register.filter
def breakable(text: str) -> SafeString:
    """A URL (or id) that may wrap only after ``/``, ``?`` and ``&`` (a <wbr> there)."""
    return mark_safe(re.sub(r"(/+|\?|&amp;)", r"\1<wbr>", escape(text)))  # noqa: S308 (escaped first)


@register.filter(name="mask_url")
def mask_url_filter(url: str) -> str:
    """An endpoint URL with its secrets (credentials, secret-named query values) masked."""
    return mask_url(url)

"""Template filters of the portal's pages."""

from __future__ import annotations

import datetime
import re
from collections.abc import Sequence

from django import template
from django.utils import timezone
from django.utils.html import escape, format_html, format_html_join
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
def volume_totals(hours: list) -> str:
    """The 24 hours of a volume chart in one line: "1,644 deliveries in 3 of the 24 hours:
    1,600 succeeded, 40 failed, 4 still retrying"."""
    total = sum(h.total for h in hours)
    if not total:
        return "No deliveries in these 24 hours."
    busy = sum(1 for h in hours if h.total)
    parts = [f"{sum(getattr(h, name) for h in hours):,} {label}"
             for name, label in (("delivered", "succeeded"), ("gave_up", "failed"),
                                 ("cancelled", "cancelled"), ("retrying", "still retrying"))
             if any(getattr(h, name) for h in hours)]
    noun = "delivery" if total == 1 else "deliveries"
    return f"{total:,} {noun} in {busy} of the {len(hours)} hours: " + ", ".join(parts) + "."


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


@register.filter
def when(moment: datetime.datetime | None, seconds: str = "") -> SafeString | str:
    """The portal's one time-zone policy: a ``<time>`` in UTC ("2026-12-07 21:44 UTC", with
    seconds when asked), which portal.js shows in the browser's zone with UTC on hover."""
    if moment is None:
        return "—"
    utc = timezone.localtime(moment, datetime.UTC)
    shown = f"{utc:%Y-%m-%d %H:%M:%S}" if seconds else f"{utc:%Y-%m-%d %H:%M}"
    return format_html('<time datetime="{}" title="{} UTC"{}>{} UTC</time>',
                       f"{utc:%Y-%m-%dT%H:%M:%SZ}", f"{utc:%Y-%m-%d %H:%M:%S}",
                       mark_safe(' data-seconds=""') if seconds else "", shown)


@register.filter
def chips(names: Sequence[str], shown: int = 3) -> SafeString:
    """Event types as compact chips: the first ``shown``, then "+N" naming the rest (on
    hover, and to screen readers)."""
    names = list(names)
    head, rest = names[:shown], names[shown:]
    items = format_html_join("", '<li class="chip">{}</li>', ((n,) for n in head))
    if rest:
        listed = ", ".join(rest)
        items += format_html('<li class="chip more" title="{}">+{}<span class="visually-hidden">'
                             ' more: {}</span></li>', listed, len(rest), listed)
    return format_html('<ul class="chips">{}</ul>', items)


STATE_BADGES = {"succeeded": "ok", "failed": "bad", "pending": "warn", "sending": "warn",
                "cancelled": ""}


@register.filter
def thousands(number: int | None) -> str:
    """1644 -> "1,644"."""
    return "—" if number is None else f"{number:,}"


@register.filter
def last_answer(delivery: object) -> str:
    """A delivery's last answer in one line: "HTTP 500", the error, or both when they
    differ ("HTTP 429: rate limited")."""
    code = getattr(delivery, "last_status_code", None)
    error = getattr(delivery, "last_error", "") or ""
    status = f"HTTP {code}" if code else ""
    if not error or error == status:
        return status or "—"
    return f"{status}: {error}" if status and not error.startswith(status) else error


@register.filter
def state_badge(state: str) -> SafeString:
    """A delivery's state as the same badge on every page."""
    return format_html('<span class="badge {}">{}</span>', STATE_BADGES.get(state, ""), state)


@register.filter
def percent_class(value: float | None) -> str:
    """ok (99 % and up), warn (90 % and up), bad (below), or nothing without attempts."""
    if value is None:
        return ""
    return "ok" if value >= 99 else "warn" if value >= 90 else "bad"

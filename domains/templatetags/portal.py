"""Template filters of the portal's pages."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def duration(milliseconds: int | None) -> str:
    """An attempt's duration as people read it: "< 1 ms" for what rounds to 0, "1,250 ms"."""
    if milliseconds is None:
        return "—"
    return "< 1 ms" if milliseconds < 1 else f"{milliseconds:,} ms"

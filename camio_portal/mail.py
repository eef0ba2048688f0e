"""E-mail printed on the console (``EMAIL_URL=consolemail://``, the default outside
production) as a framed block that stands out from log lines: who it is for, its subject
and its text, links unbroken (no right edge, so a long link is never wrapped or cut)."""

from __future__ import annotations

from typing import Any

from django.core.mail.backends.console import EmailBackend

WIDTH = 72


def framed(message: Any) -> str:
    """The block for one message (its plain-text body)."""
    title = " E-mail, printed here instead of sent "
    lines = [f"To: {', '.join(message.to)}", f"Subject: {message.subject}", "",
             *str(message.body).rstrip().splitlines()]
    return "\n".join([
        "╔══" + title + "═" * max(3, WIDTH - len(title) - 3),
        *(f"║ {line}".rstrip() for line in lines),
        "╚" + "═" * (WIDTH - 1),
    ]) + "\n"


class FramedConsoleBackend(EmailBackend):
    """Django's console backend, writing each message as a framed block."""

    def write_message(self, message: Any) -> None:
        self.stream.write("\n" + framed(message) + "\n")

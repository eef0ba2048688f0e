"""What the settings need for monitoring, read before anything else starts: the
networks that may read /metrics and the metrics folder that every process of a
host shares."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from camio_portal.env import env


def networks(name: str, default: list[str]) -> list[str]:
    """Read a comma-separated list of networks (CIDRs or addresses), each checked."""
    values = env.list(name, default=default)
    for value in values:
        try:
            ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise ImproperlyConfigured(
                f"{name}: {value!r} is not a network (e.g. 10.0.0.0/8, 127.0.0.1 or ::1)."
            ) from None
    return values


def metrics_folder(default: Path | None = None) -> str:
    """Return PROMETHEUS_MULTIPROC_DIR (else ``default``; "" for none), created, and set
    in this process's environment, where prometheus-client and child processes read it.

    Settings call this before anything imports prometheus-client, which chooses its
    multi-process mode when it is first imported.
    """
    value = env.str("PROMETHEUS_MULTIPROC_DIR", default="") or (str(default) if default else "")
    if value:
        Path(value).mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = value  # for prometheus-client and children
    return value


def clear_metrics_folder(folder: str) -> int:
    """Delete the metrics files of earlier runs (before any process of this run starts,
    as prometheus-client asks); return how many."""
    files = list(Path(folder).glob("*.db")) if folder else []
    for path in files:
        path.unlink(missing_ok=True)
    return len(files)


"""The counters Boxes report and Camio's default rules for them (DESIGN.md section 7).

Descriptions are written from what each counter counts; each states the value
and the threshold it exceeded.
"""

from __future__ import annotations

from typing import Any

CAMERA_COUNTERS = (
    "stream_changed_offline_count",
    "movies_discarded_count",
    "events_purged_count",
    "movies_purged_count",
    "segmentation_process_restart_count",
)
BOX_COUNTERS = (
    "upload_queue_length",
    "movie_upload_queue_commands_total",
    "other_upload_queue_commands_total",
)
# Box counters also come per upload priority: movie_upload_queue_commands_total_priority_<n>.
BOX_COUNTER_PREFIXES = (
    "movie_upload_queue_commands_total_priority_",
    "other_upload_queue_commands_total_priority_",
)

DEFAULT_RULES: list[dict[str, Any]] = [
    {
        "counter": "stream_changed_offline_count",
        "scope": "camera",
        "threshold": 0,
        "description": "{value} {op} {threshold} means the camera's video stream went offline "
        "{value:time|times} since the Box's previous report: check the camera's power and "
        "network.",
    },
    {
        "counter": "movies_discarded_count",
        "scope": "camera",
        "threshold": 0,
        "description": "{value} {op} {threshold} means the Box discarded "
        "{value:recorded movie|recorded movies} without processing: it is falling behind or "
        "short of disk space.",
    },
    {
        "counter": "events_purged_count",
        "scope": "camera",
        "threshold": 0,
        "description": "{value} {op} {threshold} means "
        "{value:detected event was|detected events were} purged from the Box before upload: "
        "that video is lost.",
    },
    {
        "counter": "movies_purged_count",
        "scope": "camera",
        "threshold": 0,
        "description": "{value} {op} {threshold} means {value:movie was|movies were} purged from "
        "the Box's storage before upload: the upload link cannot keep up.",
    },
    {
        "counter": "segmentation_process_restart_count",
        "scope": "camera",
        "threshold": 15,
        "window_seconds": 900,
        "description": "{value} {op} {threshold} means the network connection to the video "
        "stream is unstable: it restarted {value:time|times} in "
        "{window_minutes:minute|minutes}.",
    },
    {
        "counter": "upload_queue_length",
        "scope": "box",
        "threshold": None,
        "description": "{value} {op} {threshold} means the Box's upload queue holds "
        "{value:item|items}, more than the domain's minimum: uploads are falling behind.",
    },
]


def default_rule(counter: str) -> dict[str, Any]:
    """Return the default fields of ``counter``'s rule (comparison, window, cooldown too)."""
    for rule in DEFAULT_RULES:
        if rule["counter"] == counter:
            return {
                "comparison": "gt",
                "window_seconds": 0,
                "cooldown_seconds": 900,
                "enabled": True,
                **rule,
            }
    raise KeyError(counter)

"""The portal's log formats, shared by Django, gunicorn and Celery.

``LOG_FORMAT=json`` (production's default) writes one JSON object per line:
``time`` (ISO 8601, UTC), ``level``, ``logger``, ``message``, then whatever the
call passed as ``extra=`` (``domain``, ``endpoint_id``, ``delivery_id``,
``event_id`` where known), ``request_id`` (the request or task the line was written for,
or a delivery's event's) and the traceback as ``exception``. ``text`` (the
default elsewhere) is one line for people: time, level, logger, message.
"""

from __future__ import annotations

import datetime
import json
import logging
import logging.config
import time
from collections.abc import Callable, Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from callbacks import tracing

FORMATS = ("json", "text")

# Attributes every LogRecord has: the rest came in through ``extra=``.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName",
}
# Extras not worth a field: Django's request object, Celery's task context (its
# arguments and return value, already summed up in the message).
_NOT_FIELDS = _STANDARD | {"request", "data", "server_time"}


def default_format(mode: str) -> str:
    """JSON for production (log collectors), text for people everywhere else."""
    return "json" if mode == "production" else "text"


def _time(created: float) -> str:
    moment = datetime.datetime.fromtimestamp(created, tz=datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _access_fields(args: Mapping[str, Any]) -> dict[str, Any]:
    """gunicorn's access log atoms (its ``args``) as fields."""
    status = args.get("s")
    return {
        "method": args.get("m"),
        "path": args.get("U"),
        "status": int(str(status)) if str(status).isdigit() else status,
        "duration_ms": args.get("M"),
        "remote_addr": args.get("h"),
        # The request is over when gunicorn logs it: its id is the answer's header.
        **({"request_id": args["{x-request-id}o"]} if args.get("{x-request-id}o") else {}),
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.name == "gunicorn.access" and isinstance(record.args, Mapping):
            entry.update(_access_fields(record.args))
        fields = vars(record)
        for name in fields.keys() - _NOT_FIELDS:
            entry.setdefault(name, fields[name])
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``2026-12-01T10:00:00.123Z INFO logger message`` (UTC)."""

    converter: Callable[[float | None], time.struct_time] = time.gmtime
    default_time_format = "%Y-%m-%dT%H:%M:%S"
    default_msec_format = "%s.%03dZ"


class RequestId(logging.Filter):
    """Put the request id the work is for (callbacks.tracing) on each record as
    ``request_id``, unless the call gave one (a delivery attempt gives its event's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            request_id = tracing.REQUEST_ID.get()
            if request_id:
                record.request_id = request_id
        return True


class OversizedBody(logging.Filter):
    """A body over DATA_UPLOAD_MAX_MEMORY_SIZE is the client's doing (it gets 413): one
    WARNING line, without the traceback Django's security logger attaches at ERROR."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        record.exc_info, record.exc_text = None, None
        record.msg, record.args = "Request body too large (413): %s", (
            getattr(getattr(record, "request", None), "path", "?"),)
        return True


def logging_config(fmt: str, level: str) -> dict[str, Any]:
    """The ``logging.config.dictConfig`` dict for ``fmt`` (json or text) at ``level``:
    everything, gunicorn's and Django's loggers included, goes to one stderr handler."""
    if fmt not in FORMATS:
        raise ImproperlyConfigured(f"LOG_FORMAT={fmt!r} is not a log format; use json or text.")
    formatter = (
        {"()": JsonFormatter}
        if fmt == "json"
        else {"()": TextFormatter, "format": "%(asctime)s %(levelname)s %(name)s %(message)s"}
    )
    through_root = {"handlers": [], "propagate": True}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"portal": formatter},
        "filters": {"oversized_body": {"()": OversizedBody}, "request_id": {"()": RequestId}},
        "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "portal",
                                 "filters": ["request_id"]}},
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # Django's and gunicorn's own handlers replaced: their lines go through ours.
            "django": through_root,
            "django.server": through_root,
            "gunicorn.error": through_root,
            "gunicorn.access": {**through_root, "level": "INFO"},
            "django.security.RequestDataTooBig": {**through_root, "filters": ["oversized_body"]},
        },
    }


def configured() -> bool:
    """Whether the root logger already writes through one of these formatters."""
    return any(isinstance(handler.formatter, JsonFormatter | TextFormatter)
               for handler in logging.getLogger().handlers)


def configure(config: dict[str, Any]) -> None:
    """Apply ``config`` (Django's LOGGING_CONFIG callable) and log Python's warnings
    through it too, rather than as bare lines on stderr."""
    logging.config.dictConfig(config)
    logging.captureWarnings(True)

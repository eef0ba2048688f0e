"""Stream-health counter reports from Boxes, the rules that judge them, and incidents."""

from __future__ import annotations

import hashlib
import json
import string
from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone

from domains.models import Camera, Device, Domain, new_public_id


class Scope(models.TextChoices):
    CAMERA = "camera", "per camera"
    BOX = "box", "per Box"


class Comparison(models.TextChoices):
    GT = "gt", ">"
    GTE = "gte", "≥"


TEMPLATE_FIELDS = {"value": 47, "threshold": 15, "op": ">", "window_minutes": 15}


class Wording(string.Formatter):
    """Formats a rule's description. ``{value:time|times}`` is the number and the word
    that agrees with it: "1 time", "47 times" (any placeholder, any two words)."""

    def format_field(self, value: Any, format_spec: str) -> str:
        if "|" in format_spec:
            one, many = format_spec.split("|", 1)
            return f"{value} {one if value == 1 else many}"
        return str(super().format_field(value, format_spec))


WORDING = Wording()


class CounterRule(models.Model):
    """When a counter opens an incident. Defaults: incidents.default_rules.DEFAULT_RULES."""

    counter = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=8, choices=Scope.choices, default=Scope.CAMERA)
    enabled = models.BooleanField(default=True)
    comparison = models.CharField(max_length=4, choices=Comparison.choices, default=Comparison.GT)
    threshold = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Trips when the value (or the window's sum) compares so with this. "
        "Empty: the domain's own minimum (upload_queue_length).",
    )
    window_seconds = models.PositiveIntegerField(
        default=0, help_text="0: the report's own value; else the sum over this many seconds."
    )
    cooldown_seconds = models.PositiveIntegerField(
        default=900, help_text="After a trip, the same camera and counter stay quiet this long."
    )
    description = models.TextField(
        help_text="Placeholders: {value}, {op}, {threshold}, {window_minutes}."
    )
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["scope", "counter"]

    def __str__(self) -> str:
        return self.counter

    def clean(self) -> None:
        if self.comparison == Comparison.GTE and self.threshold == 0:
            raise ValidationError({"threshold": "A rule must not trip on a zero value: use > 0."})
        try:
            WORDING.format(self.description, **TEMPLATE_FIELDS)
        except (KeyError, IndexError, ValueError) as exc:
            raise ValidationError(
                {
                    "description": f"Unknown placeholder or bad braces ({exc}); "
                    "use {value}, {op}, {threshold}, {window_minutes}, and "
                    "{value:time|times} for a number with the word that agrees with it."
                }
            ) from None

    def trips(self, value: int, threshold: int) -> bool:
        return value >= threshold if self.comparison == Comparison.GTE else value > threshold

    def describe(self, value: int, threshold: int) -> str:
        return WORDING.format(
            self.description,
            value=value,
            threshold=threshold,
            op=self.get_comparison_display(),
            window_minutes=round(self.window_seconds / 60),
        )


def report_digest(cameras: dict[str, Any], box: dict[str, Any]) -> str:
    """Return the SHA-256 (hex) of a report's content, as canonical JSON (sorted keys, no
    spaces) of its stored ``cameras`` and ``box``: equal content, equal digest."""
    content = json.dumps({"box": box, "cameras": cameras}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(content.encode()).hexdigest()


class CounterReport(models.Model):
    """One report of a Box as received: deltas since its previous report.

    The same report twice is one: by (Box, ``report_id``) when the Box gives an id,
    else by (Box, time, content), so reports of one time for other cameras all count."""

    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="counter_reports")
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="+")
    report_id = models.CharField(max_length=100, blank=True)
    reported_at = models.DateTimeField()
    received_at = models.DateTimeField(default=timezone.now)
    cameras = models.JSONField(default=dict, help_text="{camera_id: {counter: value}}")
    box = models.JSONField(default=dict, help_text="{counter: value}")
    content_digest = models.CharField(
        max_length=64, editable=False, help_text="SHA-256 of cameras and box (report_digest)."
    )
    historical = models.BooleanField(
        default=False, help_text="Evaluated but publishes nothing (loaded history)."
    )
    evaluated_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-reported_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["device", "reported_at", "content_digest"],
                condition=models.Q(report_id=""),
                name="one_report_per_time_and_content",
            ),
            models.UniqueConstraint(
                fields=["device", "report_id"],
                condition=~models.Q(report_id=""),
                name="one_report_per_id",
            ),
        ]
        indexes = [
            models.Index(fields=["received_at"], name="report_received"),
            models.Index(
                fields=["received_at"],
                condition=models.Q(evaluated_at__isnull=True),
                name="report_unevaluated",
            ),
            models.Index(
                fields=["device", "id"],
                condition=models.Q(evaluated_at__isnull=True),
                name="report_unevaluated_box",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.device} at {self.reported_at:%Y-%m-%d %H:%M:%S}"


class CounterSample(models.Model):
    """A non-zero counter value of a report (zeros change no sum and trip no rule)."""

    report = models.ForeignKey(CounterReport, on_delete=models.CASCADE, related_name="samples")
    subject = models.CharField(max_length=80, help_text="cam:<camera pk> or box:<device pk>")
    counter = models.CharField(max_length=64)
    reported_at = models.DateTimeField()
    value = models.BigIntegerField()

    class Meta:
        indexes = [
            models.Index(fields=["subject", "counter", "reported_at"], name="sample_window"),
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.counter}={self.value}"


class CounterMinute(models.Model):
    """Per-minute sums, kept after raw reports expire: a camera's counter history."""

    subject = models.CharField(max_length=80)
    counter = models.CharField(max_length=64)
    minute = models.DateTimeField()
    total = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subject", "counter", "minute"], name="one_minute_sum")
        ]

    def __str__(self) -> str:
        return f"{self.subject} {self.counter} {self.minute:%H:%M}={self.total}"


class EvaluationLock(models.Model):
    """One row per Box: its evaluation is asked for once (``queued_at``) and runs under a
    lease (``held_by`` until ``held_until``), so evaluations of one Box run one at a time
    and a second one gives the work back instead of waiting."""

    subject = models.CharField(max_length=80, primary_key=True)
    queued_at = models.DateTimeField(null=True, blank=True)
    held_by = models.UUIDField(null=True, blank=True)
    held_until = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.subject


class Incident(models.Model):
    incident_id = models.CharField(max_length=32, unique=True, default=new_public_id)
    domain = models.ForeignKey(Domain, on_delete=models.CASCADE, related_name="incidents")
    device = models.ForeignKey(Device, on_delete=models.CASCADE, related_name="incidents")
    camera = models.ForeignKey(
        Camera, on_delete=models.CASCADE, null=True, blank=True, related_name="incidents"
    )
    report = models.ForeignKey(
        CounterReport, on_delete=models.SET_NULL, null=True, blank=True, related_name="incidents"
    )
    subject = models.CharField(max_length=80)
    date = models.DateTimeField(help_text="The tripping report's time.")
    counter_events = models.JSONField(default=dict)
    counters = models.CharField(max_length=500, help_text="The tripped counters, for filtering.")
    historical = models.BooleanField(default=False)
    event_id = models.UUIDField(null=True, blank=True, help_text="The incident.created event.")
    created_at = models.DateTimeField(default=timezone.now)
    # Not stored: the incident.created payload that evaluate builds and then publishes.
    payload: dict[str, Any]

    class Meta:
        ordering = ["-date"]
        constraints = [
            models.UniqueConstraint(fields=["report", "subject"], name="one_incident_per_report"),
        ]
        indexes = [models.Index(fields=["domain", "-date"], name="incident_domain_date")]

    def __str__(self) -> str:
        return f"Incident {self.incident_id} ({self.counters})"


class CounterTrip(models.Model):
    """A (camera, counter) that tripped at a report time: the cooldown's memory."""

    incident = models.ForeignKey(Incident, on_delete=models.CASCADE, related_name="trips")
    subject = models.CharField(max_length=80)
    counter = models.CharField(max_length=64)
    at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["subject", "counter", "at"], name="trip_cooldown")]

    def __str__(self) -> str:
        return f"{self.subject} {self.counter} at {self.at}"

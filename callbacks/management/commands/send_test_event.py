"""python manage.py send_test_event --endpoint <endpoint id> --type camera.created"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from callbacks import catalog
from callbacks.models import Endpoint
from callbacks.services import send_test_event_now


class Command(BaseCommand):
    help = (
        "Send one test event (the catalog's example payload) to an endpoint and print the result."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--endpoint", required=True, help="The endpoint's id.")
        parser.add_argument(
            "--type",
            dest="event_type",
            default="camera.created",
            choices=catalog.NAMES,
            help="The event type (default camera.created).",
        )

    def handle(self, *args: Any, endpoint: str, event_type: str, **options: Any) -> None:
        target = Endpoint.objects.live().filter(endpoint_id=endpoint).first()
        if target is None:
            raise CommandError(f"--endpoint: no endpoint with the id {endpoint!r}.")
        try:
            delivery, result = send_test_event_now(
                endpoint=target, event_type=event_type, actor=None
            )
        except ValidationError as exc:
            raise CommandError(
                "; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())
            ) from None
        if result is None:
            raise CommandError("The delivery was taken by another sender; see the delivery log.")
        self.stdout.write(f"{result.request.method} {target.url}")
        self.stdout.write(f"webhook-id: {delivery.event_id}  delivery: {delivery.id}")
        outcome = f"HTTP {result.status}" if result.status else result.error
        self.stdout.write(f"{outcome} in {result.duration_ms} ms -> {delivery.state}")
        if result.response_body:
            self.stdout.write(f"response: {result.response_body[:500]}")
        if delivery.state != "succeeded":
            raise CommandError(f"The test delivery {delivery.state}.")

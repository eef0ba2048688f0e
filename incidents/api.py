"""``POST /api/devices/{device_id}/counters``: a Box posts its counter reports with its token."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from domains.api.batch import (
    BAD_BATCH,
    BatchAnswer,
    batch_response,
    check_size,
    items,
    token_throttle,
)
from domains.api.permissions import require_kind
from domains.models import Device, TokenKind
from incidents.services import ingest_reports, request_evaluation


class BoxCredentials(BasePermission):
    """A Box token (a user token answers 403)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        require_kind(request, TokenKind.BOX)
        return True


BoxThrottle = token_throttle("box", lambda token: token.device_id)


class ReportIn(serializers.Serializer):
    report_id = serializers.CharField(
        required=False,
        max_length=100,
        help_text="The Box's id for this report (optional, at most 100 characters). A report "
        "with the id of one stored for this Box is a duplicate; without an id, a duplicate is "
        "a report of the same time and the same cameras and box counters.",
    )
    time = serializers.DateTimeField(help_text="When the Box took the counts, with an offset.")
    cameras = serializers.DictField(
        child=serializers.DictField(child=serializers.IntegerField(min_value=0)),
        required=False,
        help_text="Per camera (camera_id or local camera id): counter deltas since the "
        "previous report, such as segmentation_process_restart_count.",
    )
    box = serializers.DictField(
        child=serializers.IntegerField(min_value=0),
        required=False,
        help_text="Per Box: upload_queue_length, movie_upload_queue_commands_total, ...",
    )


class BatchIn(serializers.Serializer):
    reports = ReportIn(many=True, help_text="Up to 1,000 reports (a lone report may be sent bare).")


class CounterReportView(APIView):
    permission_classes = [BoxCredentials]
    throttle_classes = [BoxThrottle]

    @extend_schema(
        operation_id="devices_counters_create",
        tags=["incidents"],
        request=BatchIn,
        responses={
            202: OpenApiResponse(BatchAnswer, "Stored; accepted, duplicates, rejected by index."),
            400: OpenApiResponse(
                BAD_BATCH,
                "Every report was bad (batch answer), or the body was not reports (errors).",
            ),
            413: OpenApiResponse(description="More than 1,000 reports or 5 MB."),
        },
    )
    def post(self, request: Request, device_id: str) -> Response:
        """Store a Box's counter reports; incidents are judged in the background."""
        check_size(request, settings.INCIDENT_MAX_BODY_BYTES)
        device = Device.objects.select_related("domain").filter(device_id=device_id).first()
        if device is None:
            raise NotFound("No Box with this id.")
        if request.auth.device_id != device.pk:
            # Another Box's id: the same answer as an unknown one (ids are not disclosed).
            raise NotFound("No Box with this id.")
        reports = items(
            request.data, many="reports", one=None, bare=True, limit=settings.INCIDENT_MAX_REPORTS
        )
        result = ingest_reports(device=device, reports=reports)
        if result.report_ids:
            transaction.on_commit(lambda: request_evaluation([device.pk]))
        return batch_response(result.as_answer())

"""``POST /api/devices/{device_id}/counters``: a Box posts its counter reports with its token."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from domains.api import fields
from domains.api.batch import (
    ALL_REFUSED,
    BAD_BATCH,
    BatchAnswer,
    Errors,
    batch_response,
    check_size,
    items,
    token_throttle,
)
from domains.api.permissions import request_token, require_kind
from domains.models import Device, TokenKind
from incidents.services import ingest_reports, request_evaluation
from incidents.services.ingest import MAX_REPORT_ID, MAX_VALUE


class BoxCredentials(BasePermission):
    """A Box token (a user token answers 403)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        require_kind(request, TokenKind.BOX)
        return True


BoxThrottle = token_throttle("box", lambda token: token.device_id)


COUNTER_NAME = r"^[^\x00]{1,64}$"


def counters(help_text: str) -> fields.Mapping:
    return fields.Mapping(
        key_regex=COUNTER_NAME,
        key_message="A counter name has 1 to 64 characters.",
        child=fields.Integer(min_value=0, max_value=MAX_VALUE),
        required=False,
        help_text=help_text,
    )


class ReportIn(fields.Input):
    report_id = fields.Text(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=MAX_REPORT_ID,
        help_text="The Box's id for this report (optional, at most 100 characters). A report "
        "with the id of one stored for this Box is a duplicate; without an id, a duplicate is "
        "a report of the same time and the same cameras and box counters.",
    )
    time = fields.DateTime(help_text="When the Box took the counts, RFC 3339 with an offset.")
    cameras = fields.Mapping(
        key_regex=fields.PUBLIC_ID,
        key_message="Not a camera id.",
        child=counters("Counter deltas since the previous report."),
        required=False,
        help_text="Per camera (camera_id or local camera id): counter deltas since the "
        "previous report, such as segmentation_process_restart_count.",
    )
    box = counters("Per Box: upload_queue_length, movie_upload_queue_commands_total, ...")


class BatchIn(fields.Input):
    reports = serializers.ListField(
        child=fields.Item(ReportIn),
        min_length=1,
        max_length=1000,
        help_text="Up to 1,000 (INCIDENT_MAX_REPORTS) reports; each is judged alone.",
    )


class LoneReport(fields.LoneItem):
    shape = ReportIn
    batch_key = "reports"


REPORTS = PolymorphicProxySerializer(
    component_name="CounterReports",
    serializers=[BatchIn, LoneReport],
    resource_type_field_name=None,
)


class CounterReportView(APIView):
    permission_classes = [BoxCredentials]
    throttle_classes = [BoxThrottle]

    @extend_schema(
        operation_id="devices_counters_create",
        tags=["incidents"],
        request=REPORTS,
        responses={
            202: OpenApiResponse(BatchAnswer, "Stored; accepted, duplicates, rejected by index."),
            400: OpenApiResponse(Errors, 'The body is not one report or {"reports": [...]}.'),
            413: OpenApiResponse(Errors, "More than 1,000 reports or 5 MB."),
            422: OpenApiResponse(BAD_BATCH, ALL_REFUSED),
        },
    )
    def post(self, request: Request, device_id: str) -> Response:
        """Store a Box's counter reports; incidents are judged in the background."""
        check_size(request, settings.INCIDENT_MAX_BODY_BYTES)
        device = Device.objects.select_related("domain").filter(device_id=device_id).first()
        if device is None:
            raise NotFound("No Box with this id.")
        if request_token(request).device_id != device.pk:
            # Another Box's id: the same answer as an unknown one (ids are not disclosed).
            raise NotFound("No Box with this id.")
        reports = items(
            request.data, many="reports", one=None, bare=True, limit=settings.INCIDENT_MAX_REPORTS
        )
        result = ingest_reports(device=device, reports=reports)
        if result.report_ids:
            transaction.on_commit(lambda: request_evaluation([device.pk]))
        return batch_response(result.as_answer())

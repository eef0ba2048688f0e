"""``POST /api/devices/{device_id}/counters``: a Box posts its counter reports with its token."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle
from rest_framework.views import APIView

from domains.api.permissions import require_kind
from domains.models import Device, TokenKind
from incidents.services import ingest_reports
from incidents.tasks import enqueue_evaluation


class TooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request is too large."


class BoxCredentials(BasePermission):
    """A Box token (a user token answers 403)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        require_kind(request, TokenKind.BOX)
        return True


class BoxThrottle(SimpleRateThrottle):
    """Per Box, so one owner's Boxes do not share a budget."""

    scope = "box"

    def get_rate(self) -> str | None:
        return settings.API_THROTTLE_RATES.get(self.scope) or None

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        token = request.auth
        return self.cache_format % {"scope": self.scope, "ident": token.device_id}


class ReportIn(serializers.Serializer):
    report_id = serializers.CharField(required=False, max_length=100)
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


class Rejected(serializers.Serializer):
    index = serializers.IntegerField()
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


class BatchOut(serializers.Serializer):
    accepted = serializers.ListField(child=serializers.IntegerField())
    duplicates = serializers.ListField(child=serializers.IntegerField())
    rejected = Rejected(many=True)


class ErrorsOut(serializers.Serializer):
    errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))


BAD_BATCH = PolymorphicProxySerializer(
    component_name="BatchOrErrors",
    serializers=[BatchOut, ErrorsOut],
    resource_type_field_name=None,
)


def _reports(data: Any) -> list[Any]:
    if isinstance(data, dict) and "reports" in data:
        reports = data["reports"]
    elif isinstance(data, dict):
        reports = [data]
    else:
        reports = data
    if not isinstance(reports, list) or not reports:
        raise serializers.ValidationError(
            {"reports": ['Send a report object, or {"reports": [...]} with at least one.']}
        )
    if len(reports) > settings.INCIDENT_MAX_REPORTS:
        raise TooLarge(f"At most {settings.INCIDENT_MAX_REPORTS} reports per request.")
    return reports


class CounterReportView(APIView):
    permission_classes = [BoxCredentials]
    throttle_classes = [BoxThrottle]

    @extend_schema(
        operation_id="devices_counters_create",
        tags=["incidents"],
        request=BatchIn,
        responses={
            202: OpenApiResponse(BatchOut, "Stored; accepted, duplicates and rejected by index."),
            400: OpenApiResponse(
                BAD_BATCH,
                "Every report was bad (batch answer), or the body was not reports (errors).",
            ),
            413: OpenApiResponse(description="More than 1,000 reports or 5 MB."),
        },
    )
    def post(self, request: Request, device_id: str) -> Response:
        """Store a Box's counter reports; incidents are judged in the background."""
        length = int(request.META.get("CONTENT_LENGTH") or 0)
        if length > settings.INCIDENT_MAX_BODY_BYTES:
            raise TooLarge(f"At most {settings.INCIDENT_MAX_BODY_BYTES} bytes per request.")
        device = Device.objects.select_related("domain").filter(device_id=device_id).first()
        if device is None:
            raise NotFound("No Box with this id.")
        if request.auth.device_id != device.pk:
            raise PermissionDenied("This token belongs to another Box.")
        result = ingest_reports(device=device, reports=_reports(request.data))
        transaction.on_commit(lambda: enqueue_evaluation(result.report_ids))
        stored = result.accepted or result.duplicates
        return Response(
            result.as_answer(),
            status=status.HTTP_202_ACCEPTED if stored else status.HTTP_400_BAD_REQUEST,
        )

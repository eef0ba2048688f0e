"""``POST /api/devices/{device_id}/counters``: a Box posts its counter reports with its token."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import NotFound
from rest_framework.permissions import BasePermission
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from apikit import batch
from apikit.permissions import request_token, require_kind
from apikit.throttling import charge
from apikit.viewsets import StrictQuery
from domains.models import Device, TokenKind
from incidents.api.serializers import REPORTS
from incidents.services import ingest_reports, request_evaluation


class BoxCredentials(BasePermission):
    """A Box token (a user token answers 403)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        require_kind(request, TokenKind.BOX)
        return True


BoxThrottle = batch.token_throttle("box", lambda token: token.device_id)


class CounterReportView(StrictQuery, APIView):
    permission_classes = [BoxCredentials]
    throttle_classes = [BoxThrottle]

    @extend_schema(
        operation_id="devices_counters_create",
        tags=["incidents"],
        request=REPORTS,
        responses=batch.batch_responses(
            'The body is not one report or {"reports": [...]}.', "More than 1,000 reports or 5 MB."
        ),
    )
    def post(self, request: Request, device_id: str) -> Response:
        """Store a Box's counter reports; incidents are judged in the background."""
        batch.check_size(request, settings.INCIDENT_MAX_BODY_BYTES)
        device = Device.objects.select_related("domain").filter(device_id=device_id).first()
        if device is None:
            raise NotFound("No Box with this id.")
        if request_token(request).device_id != device.pk:
            # Another Box's id: the same answer as an unknown one (ids are not disclosed).
            raise NotFound("No Box with this id.")
        reports = batch.items(
            request.data, many="reports", one=None, bare=True, limit=settings.INCIDENT_MAX_REPORTS
        )
        charge("box_reports", device.pk, len(reports), "counter reports from this Box")
        result = ingest_reports(device=device, reports=reports)
        if result.report_ids:
            transaction.on_commit(lambda: request_evaluation([device.pk]))
        return batch.batch_response(result.as_answer())

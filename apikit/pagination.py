"""Cursor pagination, newest first: stable pages while events keep arriving."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request

DIGITS = re.compile(r"^[0-9]{1,9}$", re.ASCII)


class NewestFirst(CursorPagination):
    ordering = "-created_at"
    page_size_query_param = "limit"

    def get_page_size(self, request: Request) -> int:
        """``?limit``: a whole number from 1 (more than API_MAX_PAGE_SIZE reads as it);
        anything else is a 400 (DRF would quietly use the default)."""
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return settings.API_PAGE_SIZE
        if not DIGITS.fullmatch(raw) or int(raw) < 1:
            raise ValidationError({self.page_size_query_param: ["A whole number from 1."]})
        return min(int(raw), settings.API_MAX_PAGE_SIZE)

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                most = settings.API_MAX_PAGE_SIZE
                parameter["description"] = f"Results per page; more than {most} reads as {most}."
                parameter["schema"] = {"type": "integer", "minimum": 1, "maximum": 999_999_999}
        return parameters

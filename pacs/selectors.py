"""Reads of PACS data for the pages and the API."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from domains.models import Domain, User
from pacs.models import PacsIntegration


def integrations_visible_to(user: User) -> QuerySet[PacsIntegration]:
    """The caller's own integrations, and every one of the domains they administer."""
    return PacsIntegration.objects.filter(
        Q(owner=user, domain_id=user.domain_id) | Q(domain__in=Domain.objects.administered_by(user))
    ).select_related("owner", "domain")

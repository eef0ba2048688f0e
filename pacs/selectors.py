"""Reads of PACS data for the pages and the API."""

from __future__ import annotations

import datetime

from django.conf import settings
from django.db.models import DateTimeField, ExpressionWrapper, F, Q, QuerySet
from django.utils import timezone

from domains.formats import counted
from domains.models import ApiToken, Domain, TokenKind, User
from pacs.models import PacsDevice, PacsIntegration, PacsIntegrationQuerySet


def _visible_to(user: User) -> PacsIntegrationQuerySet:
    return PacsIntegration.objects.filter(
        Q(owner=user, domain_id=user.domain_id) | Q(domain__in=Domain.objects.administered_by(user))
    ).select_related("owner", "domain")


def integrations_visible_to(user: User) -> QuerySet[PacsIntegration]:
    """The caller's own integrations, and every one of the domains they administer."""
    return _visible_to(user).live()


def recently_deleted_integrations(user: User) -> QuerySet[PacsIntegration]:
    """Integrations the caller can see that were deleted and can still be restored."""
    window = datetime.timedelta(hours=settings.UNDO_WINDOW_HOURS)
    return (
        _visible_to(user)
        .filter(deleted_at__gt=timezone.now() - window)
        .annotate(restorable_until=ExpressionWrapper(F("deleted_at") + window,
                                                     output_field=DateTimeField()))
        .order_by("-deleted_at")
    )


def integration_losses(integration: PacsIntegration) -> list[str]:
    """What deleting the integration takes away, counted: "3 devices", "12 door mappings"."""
    devices = integration.devices.count()
    mappings = PacsDevice.cameras.through.objects.filter(
        pacsdevice__integration=integration
    ).count()
    events = integration.events.count()
    tokens = ApiToken.objects.live().filter(
        kind=TokenKind.PACS, subject=integration.integration_id
    ).count()
    return [
        counted(devices, "device"),
        counted(mappings, "door mapping"),
        counted(events, "stored event"),
        counted(tokens, "gateway token") + (" (they answer 401 at once)" if tokens else ""),
    ]

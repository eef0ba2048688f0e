from django.conf import settings
from django.http import HttpRequest


def portal(request: HttpRequest) -> dict:
    """Expose the few settings every page shows."""
    return {"SUPPORT_EMAIL": settings.SUPPORT_EMAIL}

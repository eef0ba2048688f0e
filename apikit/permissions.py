"""Who may call which route: the token's kind first (403), then the caller's domain."""

from __future__ import annotations

from typing import Any, cast

from rest_framework.exceptions import NotAuthenticated, PermissionDenied
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from domains.models import ApiToken, Domain, TokenKind, signed_in_user

WRONG_KIND = {
    TokenKind.BOX: "A Box token opens only /api/devices/{its device_id}/counters.",
    TokenKind.PACS: "A PACS token opens only /pacs/devices and /pacs/webhooks.",
    TokenKind.USER: "A user token cannot open this route.",
}


def require_kind(request: Request, kind: str) -> None:
    """Refuse (401/403) a caller not holding a token of ``kind`` (sessions count as user)."""
    user = request.user
    if not getattr(user, "is_authenticated", False):
        raise NotAuthenticated()
    token = request.auth if isinstance(request.auth, ApiToken) else None
    presented = token.kind if token is not None else TokenKind.USER
    if presented != kind:
        raise PermissionDenied(WRONG_KIND[TokenKind(presented)])


def request_token(request: Request) -> ApiToken:
    """Return the token of a request that a Box or PACS permission (require_kind) let through."""
    # DRF types request.auth as its own Token model; TokenAuthentication sets an ApiToken, and
    # require_kind has checked it is one. The cast does nothing at run time.
    return cast(ApiToken, request.auth)


class UserCredentials(BasePermission):
    """A user token or a signed-in session (the browsable API)."""

    def has_permission(self, request: Request, view: Any) -> bool:
        require_kind(request, TokenKind.USER)
        return True


class DomainUser(UserCredentials):
    """A user of a registered domain (hooks, tokens): Camio's 'users/me' routes."""

    def has_permission(self, request: Request, view: Any) -> bool:
        super().has_permission(request, view)
        domain = signed_in_user(request).domain
        if domain is None or not domain.registered:
            raise PermissionDenied("Only users of a registered domain can use this route.")
        return True


class DomainAdmin(UserCredentials):
    """An administrator of a registered domain; objects of other domains answer 404."""

    def has_permission(self, request: Request, view: Any) -> bool:
        super().has_permission(request, view)
        if not Domain.objects.administered_by(request.user).exists():
            raise PermissionDenied("Only a domain's administrators can use this route.")
        return True

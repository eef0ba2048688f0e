"""The signed-in user's own page: their API tokens (any user of a registered domain)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from domains import services
from domains.forms import TokenForm
from domains.models import ApiToken, TokenKind, signed_in_user


def _page(request: HttpRequest, form: TokenForm, new_token: str = "") -> HttpResponse:
    tokens = ApiToken.objects.filter(user=signed_in_user(request), kind=TokenKind.USER)
    domain = signed_in_user(request).domain
    return render(
        request,
        "domains/tokens.html",
        {
            "form": form,
            "tokens": tokens,
            "new_token": new_token,
            "may_hold": domain is not None and domain.registered,
        },
    )


@login_required
@never_cache
def tokens(request: HttpRequest) -> HttpResponse:
    """List the user's tokens; POST creates one and shows it this once."""
    if request.method != "POST":
        return _page(request, TokenForm())
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _page(request, form)
    try:
        _, raw = services.token_issue(
            kind=TokenKind.USER,
            user=signed_in_user(request),
            name=form.cleaned_data["name"],
            actor=signed_in_user(request),
        )
    except ValidationError as exc:
        for messages_ in exc.message_dict.values():
            form.add_error(None, messages_)
        return _page(request, form)
    return _page(request, TokenForm(), new_token=raw)


@login_required
@require_POST
def token_revoke(request: HttpRequest, prefix: str) -> HttpResponse:
    token = get_object_or_404(
        ApiToken, user=signed_in_user(request), kind=TokenKind.USER, prefix=prefix
    )
    services.token_revoke(token=token, actor=signed_in_user(request))
    messages.success(request, f"Token {token.prefix}… ({token.name}) is revoked.")
    return redirect("domains:tokens")

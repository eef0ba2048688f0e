"""A signed-in person's own pages: accepting an invitation and their API tokens."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache

from domains import services
from domains.confirm import Question, ask, confirmed
from domains.forms import InvitationPasswordForm, TokenForm
from domains.models import ApiToken, TokenKind, signed_in_user
from domains.services import InvitationError, invitation_check
from domains.services import invitation_accept as accept


@never_cache
def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Let an invited admin choose a password; the link works once."""
    try:
        invitation = invitation_check(token)
    except InvitationError as exc:
        return render(request, "domains/invitation_invalid.html", {"reason": str(exc)}, status=410)
    form = InvitationPasswordForm(invitation.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            accept(token=token, password=form.cleaned_data["new_password1"])
        except InvitationError as exc:
            return render(
                request, "domains/invitation_invalid.html", {"reason": str(exc)}, status=410
            )
        except ValidationError as exc:
            form.add_error("new_password1", exc)
        else:
            messages.success(request, "Your password is set. Sign in with it now.")
            return redirect(f"{reverse('login')}?email={invitation.user.email}")
    return render(
        request, "domains/invitation_accept.html", {"form": form, "invitation": invitation}
    )


def _tokens_page(request: HttpRequest, form: TokenForm, new_token: str = "") -> HttpResponse:
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
        return _tokens_page(request, TokenForm())
    form = TokenForm(request.POST)
    if not form.is_valid():
        return _tokens_page(request, form)
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
        return _tokens_page(request, form)
    return _tokens_page(request, TokenForm(), new_token=raw)


@login_required
def token_revoke(request: HttpRequest, prefix: str) -> HttpResponse:
    token = get_object_or_404(
        ApiToken.objects.live(), user=signed_in_user(request), kind=TokenKind.USER, prefix=prefix
    )
    if not confirmed(request, "token.revoke", token.prefix):
        used = token.last_used_at.strftime("%Y-%m-%d %H:%M UTC") if token.last_used_at else "never"
        return ask(request, Question(
            action="token.revoke", target=token.prefix,
            title="Revoke this API token?", subject=f"{token.prefix}… ({token.name})",
            button="Revoke token", cancel_url=reverse("domains:tokens"),
            losses=[f"token {token.prefix}… ({token.name}), last used {used}"],
            consequences=["Anything calling the API with it gets 401 at once. Revoking cannot "
                          "be undone: create a new token instead."],
        ))
    services.token_revoke(token=token, actor=signed_in_user(request))
    messages.success(request, f"Token {token.prefix}… ({token.name}) is revoked.")
    return redirect("domains:tokens")

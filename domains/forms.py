"""Forms of the portal's own pages (the admin has its own in domains.admin)."""

import datetime

from django import forms
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import ValidationError

from callbacks import catalog
from callbacks.forms import (
    EVENT_TYPE_CHOICES,
    EndpointFieldsMixin,
    HeadersField,
    attempt_timeout_field,
    oauth_fields,
    ordering_field,
    payload_filter_field,
    rate_limit_field,
    retry_schedule_field,
    signing_field,
    tls_fields,
)
from callbacks.models import DeliveryState, Kind, Method
from domains.models import normalize_domain_name


class FindDomainForm(forms.Form):
    domain = forms.CharField(
        label="Domain",
        max_length=253,
        widget=forms.TextInput(attrs={"placeholder": "acme.com", "autocomplete": "off"}),
    )

    def clean_domain(self) -> str:
        return normalize_domain_name(self.cleaned_data["domain"])


class DisableForm(forms.Form):
    """The optional reason asked on an endpoint's disable confirmation."""

    reason = forms.CharField(
        label="Reason (shown on the page and in the audit log)", max_length=200, required=False
    )


class InvitationPasswordForm(SetPasswordForm):
    """Choose a password for the account an invitation opens."""


class EndpointForm(EndpointFieldsMixin, forms.Form):
    """Add or edit a callback endpoint (validation shared with every other path)."""

    kind = forms.ChoiceField(
        label="Kind",
        choices=Kind.choices,
        initial=Kind.WEBHOOK,
        required=False,
        help_text="A chat endpoint (a Slack or Teams incoming-webhook URL) gets a short text "
        "message, such as the operational events below; its URL is kept encrypted and shown "
        "as its host only. Chosen when the endpoint is added.",
    )

    method = forms.ChoiceField(
        label="HTTP method",
        choices=Method.choices,
        initial=Method.POST,
        help_text="Typically POST or PUT; any method is supported.",
    )
    url = forms.CharField(
        label="URL",
        max_length=2048,
        widget=forms.URLInput(attrs={"placeholder": "https://hooks.acme.com/camio"}),
    )
    headers = HeadersField(
        label="HTTP headers (JSON)",
        required=False,
        help_text="Name-to-value pairs. Secret-looking values are shown "
        "masked; leave them masked to keep them.",
    )
    event_types = forms.MultipleChoiceField(
        label="Event types",
        widget=forms.CheckboxSelectMultiple,
        choices=EVENT_TYPE_CHOICES,
    )
    description = forms.CharField(required=False, max_length=200)
    ordering = ordering_field()
    rate_limit = rate_limit_field()
    retry_schedule = retry_schedule_field()
    attempt_timeout = attempt_timeout_field()
    payload_filter = payload_filter_field()
    signing = signing_field()
    client_certificate, client_key, ca_bundle = tls_fields()
    client_certificate_file = forms.FileField(
        label="…or upload the client certificate", required=False,
        help_text="A .pem or .crt file, in place of pasting it above.")
    client_key_file = forms.FileField(
        label="…or upload its private key", required=False,
        help_text="A .pem or .key file, in place of pasting it above.")
    oauth_token_url, oauth_client_id, oauth_client_secret, oauth_scope = oauth_fields()

    # The page's sections: (title, help, fields, folded when empty).
    GROUPS = (
        ("The request", "", ("kind", "method", "url", "headers", "description"), False),
        ("Events", "", ("event_types", "payload_filter"), False),
        ("Delivery", "Order, pace and retries.",
         ("ordering", "rate_limit", "retry_schedule", "attempt_timeout"), False),
        ("Signatures", "", ("signing",), False),
        ("Client certificate (mTLS)",
         "For a receiver that asks for a client certificate, or whose own certificate comes "
         "from a private CA.",
         ("client_certificate", "client_certificate_file", "client_key", "client_key_file",
          "ca_bundle"), True),
        ("OAuth2 access token",
         "For a receiver behind an OAuth2 gateway: each callback carries a bearer token "
         "fetched with these client credentials.",
         ("oauth_token_url", "oauth_client_id", "oauth_client_secret", "oauth_scope"), True),
    )

    def grouped(self) -> list[tuple[str, str, list, bool, bool]]:
        """The visible fields in the page's sections: (title, help, bound fields, folded,
        open). A folded section opens when one of its fields has a value or an error; a
        field no section names goes in the first."""
        placed = {name for _, _, names, _ in self.GROUPS for name in names}
        sections = []
        for title, help_text, names, folded in self.GROUPS:
            fields = [self[n] for n in names if n in self.fields]
            used = any(f.errors or (f.value() not in (None, "", [], False)) for f in fields)
            sections.append((title, help_text, fields, folded, used or not folded))
        sections[0][2].extend(f for f in self.visible_fields() if f.name not in placed)
        return sections

    def clean(self) -> dict:
        data = super().clean()
        for name in ("client_certificate", "client_key"):  # an upload stands for the text
            upload = data.pop(f"{name}_file", None)
            if upload is not None:
                if upload.size > 65536:
                    self.add_error(f"{name}_file", "The file is too large (at most 64 KB).")
                    continue
                data[name] = upload.read().decode("utf-8", errors="replace")
        return data


class TestEventForm(forms.Form):
    event_type = forms.ChoiceField(label="Event type", choices=[(n, n) for n in catalog.NAMES])


class DomainSettingsForm(forms.Form):
    min_upload_queue_length_for_incident_creation = forms.IntegerField(
        label="Min Upload Queue Length for Incident",
        required=False,
        min_value=0,
        help_text="A Box whose upload queue grows past this opens an incident. Empty: never.",
    )


def _local_time_input() -> forms.DateTimeInput:
    # data-utc: the page's script shows the (UTC) value in the browser's time zone and
    # fills tz_offset, so the server reads what was typed back in that zone.
    return forms.DateTimeInput(attrs={"type": "datetime-local", "data-utc": "1"},
                               format="%Y-%m-%dT%H:%M")


def from_browser_zone(data: dict, names: tuple[str, ...]) -> dict:
    """Times typed in the browser's zone (its offset in the hidden ``tz_offset``), in UTC."""
    offset = data.pop("tz_offset", None)
    if offset:
        for name in names:
            if data.get(name):
                data[name] = data[name] + datetime.timedelta(minutes=offset)
    return data


class DeliveryFilterForm(forms.Form):
    state = forms.ChoiceField(required=False, choices=[("", "Any state"), *DeliveryState.choices])
    type = forms.ChoiceField(
        required=False,
        label="Event type",
        choices=[("", "Any type"), *[(n, n) for n in catalog.NAMES]],
    )
    since = forms.DateTimeField(required=False, label="From", widget=_local_time_input(),
                                help_text="In your browser's time zone (UTC without script).")
    until = forms.DateTimeField(required=False, label="To", widget=_local_time_input(),
                                help_text="In your browser's time zone (UTC without script).")
    # Minutes to add to the browser's local time to get UTC (Date.getTimezoneOffset()).
    tz_offset = forms.IntegerField(required=False, min_value=-24 * 60, max_value=24 * 60,
                                   widget=forms.HiddenInput)

    def clean(self) -> dict:
        super().clean()
        return from_browser_zone(self.cleaned_data, ("since", "until"))


class ReplayForm(forms.Form):
    start = forms.DateTimeField(label="From", widget=_local_time_input(),
                                help_text="In your browser's time zone (UTC without script).")
    end = forms.DateTimeField(label="To", widget=_local_time_input())
    include_all = forms.BooleanField(
        required=False, label="Replay every event, not only those that never succeeded"
    )
    # Minutes to add to the browser's local time to get UTC (Date.getTimezoneOffset()).
    tz_offset = forms.IntegerField(required=False, min_value=-24 * 60, max_value=24 * 60,
                                   widget=forms.HiddenInput)

    def clean(self) -> dict:
        super().clean()
        # The times were typed in the browser's zone: store them in UTC.
        data = from_browser_zone(self.cleaned_data, ("start", "end"))
        if data.get("start") and data.get("end") and data["start"] >= data["end"]:
            self.add_error("end", "The end of the range must be after its start.")
        return data


class CoAdminForm(forms.Form):
    email = forms.EmailField(label="E-mail of a user of this domain")


class TokenForm(forms.Form):
    name = forms.CharField(
        label="Name",
        max_length=100,
        help_text="What uses it, such as 'deploy script'.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )


def show_refusal(form: forms.BaseForm, exc: ValidationError) -> None:
    """Show a service's refusal on ``form``: each message beside its field, the rest on top."""
    for field, errors in exc.message_dict.items():
        form.add_error(field if field in form.fields else None, errors)

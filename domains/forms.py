"""Forms of the portal's own pages (the admin has its own in domains.admin)."""

from django import forms
from django.contrib.auth.forms import SetPasswordForm

from domains.validators import normalize_domain_name


class FindDomainForm(forms.Form):
    domain = forms.CharField(
        label="Domain",
        max_length=253,
        widget=forms.TextInput(attrs={"placeholder": "acme.com", "autocomplete": "off"}),
    )

    def clean_domain(self) -> str:
        return normalize_domain_name(self.cleaned_data["domain"])


class InvitationPasswordForm(SetPasswordForm):
    """Choose a password for the account an invitation opens."""

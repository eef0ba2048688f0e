"""Forms of the portal's PACS pages."""

from __future__ import annotations

from django import forms

from pacs.models import Vendor


class IntegrationForm(forms.Form):
    name = forms.CharField(max_length=200)
    vendor = forms.ChoiceField(choices=Vendor.choices)
    source_server = forms.CharField(
        max_length=255, required=False, help_text="Such as apac.int.acme.com:443 (optional)."
    )
    time_zone = forms.CharField(
        max_length=64, initial="UTC", help_text="For vendor times without an offset."
    )

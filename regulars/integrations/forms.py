from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from regulars.accounts.models import ApiKey
from regulars.integrations.events import ALL_EVENTS, CATALOGUE


class ApiKeyForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=100,
        help_text=_("What the key is for, e.g. “till 1” or “web shop”."),
    )
    scope = forms.ChoiceField(
        label=_("Scope"),
        choices=ApiKey.Scope.choices,
        initial=ApiKey.Scope.READ,
        widget=forms.RadioSelect,
    )


def event_choices() -> list[tuple[str, str]]:
    return [(ALL_EVENTS, _("All events, including ones added later"))] + [
        (e.name, f"{e.name} — {e.label}") for e in CATALOGUE.values()
    ]


class WebhookEndpointForm(forms.Form):
    url = forms.CharField(
        label=_("URL"),
        max_length=500,
        help_text=_("An http:// or https:// address that this server can reach."),
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/regulars-webhook"}),
    )
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=event_choices,
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Choose at least one event.")},
    )

    def clean_url(self) -> str:
        url = self.cleaned_data["url"].strip()
        if urlsplit(url).scheme.lower() not in ("http", "https"):
            raise forms.ValidationError(_("Use an http:// or https:// URL."))
        URLValidator(schemes=["http", "https"], message=_("Enter a valid URL."))(url)
        return url

    def clean_events(self) -> list[str]:
        chosen = self.cleaned_data["events"]
        if ALL_EVENTS in chosen:
            return [ALL_EVENTS]
        return [name for name in CATALOGUE if name in chosen]

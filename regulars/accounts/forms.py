from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from regulars.accounts.models import Business

CURRENCIES = ["EUR", "HUF", "UAH", "RUB", "USD", "GBP", "PLN", "CZK", "RSD", "BAM", "CHF"]


class BusinessSettingsForm(forms.ModelForm):
    currency = forms.ChoiceField(label=_("Currency"), choices=[(c, c) for c in CURRENCIES])
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)

    class Meta:
        model = Business
        fields = ["name", "currency", "language", "timezone"]

    def clean_timezone(self) -> str:
        import zoneinfo

        value = self.cleaned_data["timezone"]
        if value not in zoneinfo.available_timezones():
            raise forms.ValidationError(_("Unknown time zone."))
        return value

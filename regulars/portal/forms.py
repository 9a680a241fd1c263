from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class JoinForm(forms.Form):
    """Joining a business's loyalty program: who you are, how to reach you, and your consent."""

    name = forms.CharField(label=_("Name"), max_length=200)
    phone = forms.CharField(
        label=_("Phone"),
        max_length=32,
        required=False,
        widget=forms.TextInput(attrs={"type": "tel", "inputmode": "tel", "autocomplete": "tel"}),
    )
    email = forms.EmailField(
        label=_("E-mail"),
        required=False,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    birthday = forms.DateField(
        label=_("Birthday"),
        required=False,
        help_text=_("Optional: for a treat on your birthday."),
        widget=forms.DateInput(attrs={"type": "date", "autocomplete": "bday"}, format="%Y-%m-%d"),
    )
    language = forms.ChoiceField(label=_("Language"), choices=settings.LANGUAGES)
    # Consent is explicit: never ticked for the customer, and joining does not depend on it.
    marketing_consent = forms.BooleanField(required=False, initial=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["name"].widget.attrs["autocomplete"] = "name"

    def clean_birthday(self):
        birthday = self.cleaned_data.get("birthday")
        if birthday and not (1900 <= birthday.year and birthday <= timezone.localdate()):
            raise forms.ValidationError(_("Enter your real birthday, or leave it empty."))
        return birthday

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("phone") or cleaned.get("email")) and "email" not in self.errors:
            self.add_error("phone", _("Enter a phone number or an e-mail address."))
        return cleaned

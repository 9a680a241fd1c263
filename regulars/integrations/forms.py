from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.core.validators import URLValidator
from django.utils.translation import gettext_lazy as _

from regulars.accounts.models import ApiKey
from regulars.integrations.events import ALL_EVENTS, CATALOGUE
from regulars.integrations.imports.fields import SALES, fields_for
from regulars.integrations.imports.parsing import DATE_FORMATS, DELIMITERS, ENCODINGS
from regulars.integrations.imports.presets import DEFAULT_PRESET, preset_choices
from regulars.integrations.models import ImportJob


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


# --- import and export --------------------------------------------------------------------


def _choices(values: list[str], labels: dict[str, str]) -> list[tuple[str, str]]:
    return [(v, labels.get(v, v)) for v in values]


def encoding_choices() -> list[tuple[str, str]]:
    return [("", _("Detect"))] + _choices(
        ENCODINGS,
        {
            "utf-8": _("UTF-8 (with or without BOM)"),
            "cp1250": _("Windows-1250 (Central European)"),
            "cp1251": _("Windows-1251 (Cyrillic)"),
            "cp1252": _("Windows-1252 (Western European)"),
        },
    )


def delimiter_choices() -> list[tuple[str, str]]:
    return [("", _("Detect"))] + _choices(
        DELIMITERS,
        {",": _("Comma ,"), ";": _("Semicolon ;"), "\t": _("Tab"), "|": _("Vertical bar |")},
    )


DECIMAL_CHOICES = [
    ("auto", _("Read from each amount (refuses 1,234 and 1.234)")),
    (".", _("Dot: 1,234.50")),
    (",", _("Comma: 1 234,50 or 1.234,50")),
]
DATE_CHOICES = [
    ("iso", _("ISO: 2024-05-31 14:05")),
    ("dmy", _("Day first: 31.05.2024 or 31/05/2024")),
    ("mdy", _("Month first: 05/31/2024")),
    ("ymd", _("Year first: 2024.05.31")),
]


class ImportUploadForm(forms.Form):
    file = forms.FileField(label=_("CSV file"))
    preset = forms.ChoiceField(
        label=_("What is in it"), choices=preset_choices, initial=DEFAULT_PRESET
    )
    encoding = forms.ChoiceField(label=_("Encoding"), choices=encoding_choices, required=False)
    delimiter = forms.ChoiceField(label=_("Separator"), choices=delimiter_choices, required=False)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size == 0:
            raise forms.ValidationError(_("The file is empty."))
        return upload


class ImportMappingForm(forms.Form):
    """Which column holds which field, and how to read the values; built for one job."""

    encoding = forms.ChoiceField(label=_("Encoding"), choices=[])
    delimiter = forms.ChoiceField(label=_("Separator"), choices=[])
    decimal = forms.ChoiceField(label=_("Decimal separator"), choices=DECIMAL_CHOICES)
    date_format = forms.CharField(
        label=_("Date format"),
        max_length=40,
        help_text=_("iso, dmy, mdy, ymd, or a pattern such as %d.%m.%Y %H:%M"),
    )
    on_error = forms.ChoiceField(
        label=_("Bad lines"),
        choices=ImportJob.OnError.choices,
        widget=forms.RadioSelect,
    )
    backfill = forms.BooleanField(
        label=_("Run the imported sales through the loyalty programs (back-fill points)"),
        required=False,
    )
    source = forms.CharField(
        label=_("Source label"),
        max_length=30,
        required=False,
        help_text=_(
            "Optional. Set it when two systems you import from could use the same order ids."
        ),
    )

    def __init__(self, *args, job: ImportJob, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.job = job
        self.fields["encoding"].choices = encoding_choices()[1:]
        self.fields["delimiter"].choices = delimiter_choices()[1:]
        columns = [("", _("— not in the file —"))] + [
            (str(i), f"{i + 1}: {h or '—'}") for i, h in enumerate(job.headers)
        ]
        self.mapped = []
        for f in fields_for(job.kind):
            name = f"map_{f.name}"
            self.fields[name] = forms.ChoiceField(
                label=f.label, choices=columns, required=False, help_text=f.help
            )
            self.mapped.append(name)
            if not self.is_bound:
                index = job.mapping.get(f.name)
                self.initial[name] = "" if index is None else str(index)
        if job.kind != SALES:
            del self.fields["backfill"]
        if not self.is_bound:
            for name in ("encoding", "delimiter", "decimal", "date_format", "on_error", "source"):
                self.initial[name] = job.option(name, "")
            self.initial["backfill"] = job.option("backfill", False)

    def clean_date_format(self) -> str:
        value = self.cleaned_data["date_format"].strip()
        if value not in DATE_FORMATS and "%" not in value:
            raise forms.ValidationError(_("Use iso, dmy, mdy, ymd or a % pattern."))
        return value

    def clean(self):
        data = super().clean()
        used: dict[str, str] = {}
        for name in self.mapped:
            column = data.get(name)
            if not column:
                continue
            if column in used:
                self.add_error(
                    name,
                    _("This column is already used for “%(field)s”.")
                    % {"field": self.fields[used[column]].label},
                )
            used[column] = name
        return data

    @property
    def mapping_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.mapped]

    @property
    def mapping(self) -> dict[str, int]:
        return {
            name.removeprefix("map_"): int(self.cleaned_data[name])
            for name in self.mapped
            if self.cleaned_data.get(name)
        }

    @property
    def options(self) -> dict:
        data = self.cleaned_data
        return {
            "encoding": data["encoding"],
            "delimiter": data["delimiter"],
            "decimal": data["decimal"],
            "date_format": data["date_format"],
            "on_error": data["on_error"],
            "backfill": bool(data.get("backfill")),
            "source": data["source"].strip(),
        }


class ExportForm(forms.Form):
    since = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        label=_("Until"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        if data.get("since") and data.get("until") and data["since"] > data["until"]:
            raise forms.ValidationError(_("“From” must not be after “Until”."))
        return data


class EraseForm(forms.Form):
    """The owner types the customer's name to confirm: erasure cannot be undone."""

    name = forms.CharField(label=_("Type the customer's name to confirm"), max_length=200)

    def __init__(self, *args, customer, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.customer = customer

    def clean_name(self) -> str:
        typed = " ".join(self.cleaned_data["name"].split())
        if typed.casefold() != " ".join(self.customer.name.split()).casefold():
            raise forms.ValidationError(_("That is not the customer's name."))
        return typed

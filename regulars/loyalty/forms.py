"""The counter's forms, and the owner's forms for programs and rewards.

Each counter write form carries an idempotency key made when it is rendered, so a double click or
a resubmitted form is one operation, however often it arrives. The program and reward forms are
ModelForms validated by the models themselves (`Program.clean` parses the config with its kind's
class); the business and the program come from the URL, never from the form."""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from regulars.accounts.models import Business
from regulars.lib.money import to_decimal
from regulars.loyalty.models import Program, Reward
from regulars.sales.models import Product
from regulars.sales.purchases import Line

KEY_PATTERN = re.compile(r"^[A-Za-z0-9-]{8,64}$")
# Largest amount a purchase may have (the database keeps 12 digits, 2 of them cents).
MAX_AMOUNT = Decimal("9999999999.99")
MAX_QUANTITY = 999


def new_key() -> str:
    return uuid.uuid4().hex


def amount_of(raw: str) -> Decimal:
    """What the cashier typed ("4,50", "1 200.00") as money, or a plain-words error."""
    try:
        amount = to_decimal(raw.strip().replace(" ", "").replace("\xa0", ""))
    except ValueError:
        raise forms.ValidationError(_("Enter an amount like 4.50.")) from None
    if amount <= 0:
        raise forms.ValidationError(_("Enter an amount above zero."))
    if amount > MAX_AMOUNT:
        raise forms.ValidationError(_("This amount is too large."))
    return amount


class KeyField(forms.CharField):
    """The hidden idempotency key; a missing or mangled one means a stale or forged form."""

    widget = forms.HiddenInput

    def __init__(self, **kwargs):
        super().__init__(
            initial=new_key,
            error_messages={"required": _("This form has expired. Please try again.")},
            **kwargs,
        )

    def validate(self, value):
        super().validate(value)
        if value and not KEY_PATTERN.match(value):
            raise forms.ValidationError(_("This form has expired. Please try again."))


class KeyedForm(forms.Form):
    key = KeyField()

    def scoped_key(self, scope: str) -> str:
        """The key as the domain functions get it: per action, so a key sent to the wrong
        action cannot collide with another kind of operation."""
        return f"counter-{scope}:{self.cleaned_data['key']}"


class SaleForm(KeyedForm):
    """An amount, or items picked from the quick buttons (qty-<SKU> fields), or both."""

    amount = forms.CharField(label=_("Amount"), required=False, max_length=20)

    def __init__(self, *args, business: Business, **kwargs):
        super().__init__(*args, **kwargs)
        self.business = business

    def clean_amount(self) -> Decimal | None:
        raw = (self.cleaned_data.get("amount") or "").strip()
        return amount_of(raw) if raw else None

    def quantities(self) -> dict[str, int]:
        found: dict[str, int] = {}
        for name in self.data:
            if not name.startswith("qty-"):
                continue
            raw = (self.data.get(name) or "").strip()
            if not raw:
                continue
            try:
                quantity = int(raw)
            except ValueError:
                raise forms.ValidationError(_("Quantities are whole numbers.")) from None
            if not 0 <= quantity <= MAX_QUANTITY:
                raise forms.ValidationError(
                    _("A quantity is between 0 and %(max)s.") % {"max": MAX_QUANTITY}
                )
            if quantity:
                found[name.removeprefix("qty-")] = quantity
        return found

    def clean(self):
        cleaned = super().clean()
        quantities = self.quantities()
        products = {
            p.sku: p for p in Product.objects.filter(business=self.business, sku__in=quantities)
        }
        if set(quantities) - set(products):
            raise forms.ValidationError(_("An item is no longer on sale; pick it again."))
        lines = [
            Line(name="", unit_price=products[sku].price, quantity=quantity, product=products[sku])
            for sku, quantity in quantities.items()
        ]
        if cleaned.get("amount"):
            lines.append(Line(name="", unit_price=cleaned["amount"]))
        if not lines and "amount" not in self.errors:
            raise forms.ValidationError(_("Enter an amount or pick an item."))
        cleaned["lines"] = lines
        return cleaned


class RedeemForm(KeyedForm):
    reward = forms.CharField(max_length=12)


class CreditForm(KeyedForm):
    """Pay part of a purchase with store credit (cashback)."""

    program = forms.CharField(max_length=12)
    amount = forms.CharField(label=_("Amount"), max_length=20)

    def clean_amount(self) -> Decimal:
        return amount_of(self.cleaned_data.get("amount") or "")


class UndoForm(KeyedForm):
    entry = forms.CharField(max_length=12)


class UseForm(KeyedForm):
    voucher = forms.CharField(max_length=16, required=False)
    promo_card = forms.CharField(max_length=16, required=False)

    def clean(self):
        cleaned = super().clean()
        if bool(cleaned.get("voucher")) == bool(cleaned.get("promo_card")):
            raise forms.ValidationError(_("Pick one voucher or promo card."))
        return cleaned


class EnrolForm(forms.Form):
    """A new member in under 15 seconds: a name, a phone or an e-mail, and their consent."""

    name = forms.CharField(label=_("Name"), max_length=200)
    phone = forms.CharField(label=_("Phone"), max_length=32, required=False)
    email = forms.EmailField(label=_("E-mail"), required=False)
    marketing_consent = forms.BooleanField(
        label=_("Agrees to receive offers and news"), required=False
    )

    def clean(self):
        cleaned = super().clean()
        if not (cleaned.get("phone") or cleaned.get("email")) and not self.errors.get("email"):
            raise forms.ValidationError(_("Enter a phone number or an e-mail address."))
        return cleaned


# --- the owner's program and reward settings ------------------------------------------------

# What each kind does, one line for the owner (the kind's keys are in docs/loyalty.md).
KIND_HELP = {
    Program.Kind.POINTS: _("Points per unit of currency spent, spent on a catalog of rewards."),
    Program.Kind.STAMPS: _("A stamp per visit or per item; a full card unlocks its reward."),
    Program.Kind.TIERS: _(
        "Silver, Gold… by spend or visits over a rolling window; a tier multiplies points "
        "and carries perks."
    ),
    Program.Kind.DISCOUNT: _("A fixed percentage off for members; nothing is collected."),
    Program.Kind.CASHBACK: _("A percentage of each purchase back as store credit."),
}

# A new program's settings, prefilled by kind: the examples of docs/loyalty.md.
CONFIG_EXAMPLES = {
    Program.Kind.POINTS: {
        "points_per_unit": "1",
        "rounding": "floor",
        "min_purchase": "2.00",
        "product_multipliers": {"BEANS": 2},
        "category_multipliers": {"bakery": "0.5"},
        "bonuses": {"joined": 50, "birthday": 100},
    },
    Program.Kind.STAMPS: {
        "stamps_needed": 9,
        "per": "item",
        "qualifying_categories": ["coffee"],
        "max_per_purchase": 3,
    },
    Program.Kind.TIERS: {
        "basis": "spend",
        "window_days": 365,
        "tiers": [
            {
                "key": "silver",
                "name": "Silver",
                "threshold": 150,
                "multiplier": "1.25",
                "perks": ["Oat milk free of charge"],
            },
            {
                "key": "gold",
                "name": "Gold",
                "threshold": 400,
                "multiplier": "1.5",
                "perks": ["Oat milk free of charge", "A free cookie on your birthday"],
            },
        ],
    },
    Program.Kind.DISCOUNT: {"percent": 5},
    Program.Kind.CASHBACK: {"percent": 3, "min_purchase": "5.00", "bonuses": {"joined": "2.00"}},
}


class SettingsJSONField(forms.JSONField):
    """A program's config as indented JSON in a textarea; it must be a JSON object."""

    widget = forms.Textarea(attrs={"rows": 14, "cols": 60, "spellcheck": "false", "translate": "no"})
    default_error_messages = {"invalid": _("This is not valid JSON: %(error)s")}

    def to_python(self, value):
        if self.disabled or value in self.empty_values:
            return {}
        if isinstance(value, list | dict | int | float | forms.fields.JSONString):
            return value
        try:
            converted = json.loads(value, cls=self.decoder)
        except json.JSONDecodeError as exc:
            raise forms.ValidationError(
                self.error_messages["invalid"], code="invalid", params={"error": exc}
            ) from None
        if not isinstance(converted, dict):
            raise forms.ValidationError(
                _('The settings must be a JSON object, like {"key": value}.'), code="invalid"
            )
        return converted

    def prepare_value(self, value):
        if isinstance(value, forms.fields.InvalidJSONInput):
            return value
        return json.dumps(value, ensure_ascii=False, indent=2, cls=self.encoder)


class ProgramForm(forms.ModelForm):
    """A program's settings. Its kind is chosen once, on creation; `config` is checked by the
    kind's class through `Program.clean`, which names the wrong key."""

    class Meta:
        model = Program
        fields = ["kind", "name", "active", "pending_days", "expiry_days", "refund_rule", "config"]
        field_classes = {"config": SettingsJSONField}
        help_texts = {
            "config": _(
                "The kind's own settings as JSON; an unknown key is refused. Every key is "
                "described in the documentation (docs/loyalty.md)."
            ),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The model's callable default would add a hidden copy of the whole example.
        self.fields["config"].show_hidden_initial = False
        if not self.instance._state.adding:
            del self.fields["kind"]


class RewardForm(forms.ModelForm):
    """An item of a program's rewards catalog; the product is one of this business's."""

    class Meta:
        model = Reward
        fields = ["name", "description", "kind", "product", "value", "cost", "valid_days", "active"]
        labels = {"product": _("Product")}
        help_texts = {"product": _("The product a free-product reward gives.")}
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args, business: Business, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.for_business(business).order_by(
            "category", "name"
        )

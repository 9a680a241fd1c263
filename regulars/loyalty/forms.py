"""The counter's forms. Each write form carries an idempotency key made when it is rendered, so
a double click or a resubmitted form is one operation, however often it arrives."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

from django import forms
from django.utils.translation import gettext_lazy as _

from regulars.accounts.models import Business
from regulars.lib.money import to_decimal
from regulars.sales.models import Product
from regulars.sales.purchases import Line

KEY_PATTERN = re.compile(r"^[A-Za-z0-9-]{8,64}$")
# Largest amount a purchase may have (the database keeps 12 digits, 2 of them cents).
MAX_AMOUNT = Decimal("9999999999.99")
MAX_QUANTITY = 999


def new_key() -> str:
    return uuid.uuid4().hex


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
        if not raw:
            return None
        try:
            amount = to_decimal(raw.replace(" ", "").replace("\xa0", ""))
        except ValueError:
            raise forms.ValidationError(_("Enter an amount like 4.50.")) from None
        if amount <= 0:
            raise forms.ValidationError(_("Enter an amount above zero."))
        if amount > MAX_AMOUNT:
            raise forms.ValidationError(_("This amount is too large."))
        return amount

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
        raw = (self.cleaned_data.get("amount") or "").strip().replace(" ", "").replace("\xa0", "")
        try:
            amount = to_decimal(raw)
        except ValueError:
            raise forms.ValidationError(_("Enter an amount like 4.50.")) from None
        if amount <= 0:
            raise forms.ValidationError(_("Enter an amount above zero."))
        return amount


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

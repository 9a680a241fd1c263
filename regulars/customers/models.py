"""The customer record (CRM) and its timeline."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from regulars.accounts.models import BusinessOwned, BusinessQuerySet, Location
from regulars.lib.codes import new_code, normalise_code
from regulars.lib.phone import normalise_phone


def new_card_code() -> str:
    # 12 symbols of 31 ≈ 59 bits: printed in the QR, typed by nobody, guessed by nobody.
    return new_code(12)


def new_card_token() -> str:
    # 20 symbols ≈ 99 bits: the secret in the link to the customer's own card page.
    return new_code(20)


class Tag(BusinessOwned):
    """A free label an owner puts on customers ("vegan", "office crowd")."""

    name = models.CharField(_("name"), max_length=60)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["business", "name"], name="tag_unique")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class CustomerQuerySet(BusinessQuerySet):
    def search(self, term: str) -> CustomerQuerySet:
        """Find by card code, phone, e-mail or name: what a cashier types or scans."""
        term = term.strip()
        if not term:
            return self.none()
        code = normalise_code(term)
        phone = normalise_phone(term)
        q = Q(card_code=code) | Q(code=code) | Q(email__iexact=term)
        if len(phone) >= 5:
            q |= Q(phone=phone) | Q(phone__endswith=phone.lstrip("+"))
        q |= Q(name__icontains=term)
        return self.filter(q)


class Customer(BusinessOwned):
    """One person known to one business: contacts, consent, preferences and notes.

    `code` is the public id in URLs and the API; `card_code` is what the QR card carries;
    `card_token` is the secret in the link to the customer's card page (/c/card/<token>/), kept
    apart from the card code so that a cashier who scanned a card cannot open the page, and a
    leaked link can be re-issued without reprinting the card. All random, never the primary key.
    """

    code = models.CharField(max_length=12, default=new_code, unique=True, editable=False)
    card_code = models.CharField(max_length=16, default=new_card_code, unique=True)
    card_token = models.CharField(
        max_length=24, default=new_card_token, unique=True, editable=False
    )
    name = models.CharField(_("name"), max_length=200)
    email = models.EmailField(_("e-mail"), blank=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    language = models.CharField(_("language"), max_length=8, blank=True)
    marketing_consent = models.BooleanField(_("marketing consent"), default=False)
    consent_at = models.DateTimeField(null=True, blank=True)
    preferences = models.JSONField(_("preferences"), default=dict, blank=True)
    notes = models.TextField(_("notes"), blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="customers")
    external_id = models.CharField(max_length=100, blank=True)
    home_location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    joined_at = models.DateTimeField(_("joined"))
    created_at = models.DateTimeField(auto_now_add=True)

    objects = CustomerQuerySet.as_manager()

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        indexes = [
            models.Index(fields=["business", "phone"]),
            models.Index(fields=["business", "email"]),
            models.Index(fields=["business", "joined_at"]),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        self.phone = normalise_phone(self.phone)
        self.email = self.email.strip().lower()
        super().save(*args, **kwargs)


class TimelineEntry(BusinessOwned):
    """One thing that happened with a customer: a purchase, a reward, a message, a note.

    Apps above customers append entries (through `record`) so that the customer page reads one
    table, newest first, instead of asking every app.
    """

    class Kind(models.TextChoices):
        JOINED = "joined", _("Joined")
        PURCHASE = "purchase", _("Purchase")
        REFUND = "refund", _("Refund")
        NOTE = "note", _("Note")
        REWARD = "reward", _("Reward")
        MESSAGE = "message", _("Message")
        FEEDBACK = "feedback", _("Feedback")

    # Indexed by (customer, -at) below, which serves its lookups too.
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="timeline", db_index=False
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    at = models.DateTimeField()
    text = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)
    staff = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    location = models.ForeignKey(
        Location, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [models.Index(fields=["customer", "-at"])]
        ordering = ["-at", "-id"]

"""Businesses, their locations, and the people who work there with a role in each."""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models
from django.utils.translation import gettext_lazy as _

from regulars.lib.codes import new_code


class User(AbstractUser):
    """A person who logs in: an owner, a manager or a cashier, possibly of several businesses."""

    language = models.CharField(_("language"), max_length=8, blank=True)

    def businesses(self) -> models.QuerySet[Business]:
        return Business.objects.filter(memberships__user=self).order_by("name")


class Role(models.TextChoices):
    OWNER = "owner", _("Owner")
    MANAGER = "manager", _("Manager")
    CASHIER = "cashier", _("Cashier")


# Higher rank can do everything a lower rank can.
ROLE_RANK = {Role.CASHIER: 1, Role.MANAGER: 2, Role.OWNER: 3}


class Business(models.Model):
    """A tenant: one café, bakery or salon. Every business object belongs to exactly one."""

    slug = models.SlugField(_("slug"), unique=True, max_length=60)
    name = models.CharField(_("name"), max_length=200)
    currency = models.CharField(_("currency"), max_length=3, default="EUR")
    language = models.CharField(_("language"), max_length=8, default="en")
    timezone = models.CharField(_("time zone"), max_length=64, default="UTC")
    # The code in the join link the business prints for its counter: random, so nobody reaches
    # another shop's join page by guessing.
    join_code = models.CharField(max_length=12, default=new_code, unique=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("business")
        verbose_name_plural = _("businesses")

    def __str__(self) -> str:
        return self.name


class BusinessQuerySet(models.QuerySet):
    def for_business(self, business: Business) -> BusinessQuerySet:
        return self.filter(business=business)


class BusinessOwned(models.Model):
    """Base for every tenant-scoped model: a business foreign key and a scoping queryset."""

    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="+")

    objects = BusinessQuerySet.as_manager()

    class Meta:
        abstract = True


class Location(BusinessOwned):
    """A shop, café or studio of the business where purchases happen."""

    code = models.CharField(max_length=12, default=new_code, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=200)
    address = models.CharField(_("address"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("location")
        verbose_name_plural = _("locations")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """A user's role in one business. A user can hold one membership per business."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    business = models.ForeignKey(Business, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(_("role"), max_length=16, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "business"], name="one_membership_per_business")
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.business} ({self.role})"

    def allows(self, role: str) -> bool:
        return ROLE_RANK[Role(self.role)] >= ROLE_RANK[Role(role)]


class ApiKey(BusinessOwned):
    """A key a POS or web shop uses to call the REST API for one business.

    Only a SHA-256 hash of the secret is stored; the short prefix is kept in clear so the owner
    can tell keys apart and the lookup is an index hit. The full key is shown once, at creation.
    """

    class Scope(models.TextChoices):
        READ = "read", _("Read only")
        WRITE = "write", _("Read and write")

    name = models.CharField(_("name"), max_length=100)
    prefix = models.CharField(max_length=16, unique=True)
    hashed = models.CharField(max_length=64)
    scope = models.CharField(_("scope"), max_length=8, choices=Scope.choices, default=Scope.READ)
    created_by = models.ForeignKey(
        User, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"rg_{self.prefix}"


class IdempotentRequest(BusinessOwned):
    """The first response to an API write sent with an Idempotency-Key header.

    A retry with the same key and the same body gets this response again; the same key with a
    different body is a conflict (409). Keys are per business and per endpoint.
    """

    key = models.CharField(max_length=100)
    endpoint = models.CharField(max_length=200)
    request_hash = models.CharField(max_length=64)
    status = models.PositiveSmallIntegerField()
    body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["business", "endpoint", "key"], name="idempotent_request_once"
            )
        ]

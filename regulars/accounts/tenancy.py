"""Resolve the current business from the URL and enforce the user's role in it.

Every business page lives under /b/<slug>/. A user who is not a member of that business gets
404 (its existence is not revealed); a member whose role is too low gets 403.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Model, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone

from regulars.accounts.models import Business, Membership, Role
from regulars.lib.rows import columns, from_rows, read_all


def business_view(role: str = Role.CASHIER) -> Callable:
    """Decorate a view taking (request, slug, ...): sets request.business and request.membership."""

    def decorator(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @login_required
        @wraps(view)
        def wrapper(request: HttpRequest, slug: str, *args, **kwargs) -> HttpResponse:
            membership = _membership(request.user.pk, slug)
            if membership is None:
                raise Http404("No such business")
            if not membership.allows(role):
                raise PermissionDenied
            request.business = membership.business
            request.membership = membership
            # Times on business pages are the business's local times, whoever looks at them.
            with timezone.override(membership.business.timezone):
                return view(request, *args, **kwargs)

        wrapper.required_role = role  # read by the URL-walking isolation test
        return wrapper

    return decorator


_MEMBERSHIP_FIELDS = len(Membership._meta.concrete_fields)
_MEMBERSHIP_SQL = (
    f"SELECT {columns(Membership, alias='m')}, {columns(Business, alias='b')} "
    f"FROM {Membership._meta.db_table} m JOIN {Business._meta.db_table} b "
    "ON b.id = m.business_id WHERE m.user_id = %s AND b.slug = %s"
)


def _membership(user_id: int, slug: str) -> Membership | None:
    """The user's membership of the business with this slug, with the business.

    Plain SQL: every business page asks, and compiling the ORM query cost more than the
    database's answer."""
    [rows] = read_all([(_MEMBERSHIP_SQL, [user_id, slug])])
    if not rows:
        return None
    [membership] = from_rows(Membership, [rows[0][:_MEMBERSHIP_FIELDS]])
    [membership.business] = from_rows(Business, [rows[0][_MEMBERSHIP_FIELDS:]])
    return membership


def get_for_business[M: Model](
    model_or_qs: type[M] | QuerySet[M], business: Business, **lookup
) -> M:
    """Fetch one object of the business or raise 404 (never another tenant's object)."""
    qs = model_or_qs if isinstance(model_or_qs, QuerySet) else model_or_qs.objects.all()
    return get_object_or_404(qs.filter(business=business), **lookup)

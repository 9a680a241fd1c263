from datetime import timedelta
from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.db.models import Count, Sum
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from regulars.accounts.forms import BusinessSettingsForm
from regulars.accounts.models import Location, Membership, Role
from regulars.accounts.tenancy import business_view
from regulars.customers.models import Customer
from regulars.sales.models import Purchase


def healthz(request: HttpRequest) -> HttpResponse:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"ok": True})


@login_required
def home(request: HttpRequest) -> HttpResponse:
    """Send a user with one business straight to it; otherwise let them choose."""
    memberships = list(
        Membership.objects.filter(user=request.user)
        .select_related("business")
        .order_by("business__name")
    )
    if len(memberships) == 1:
        return redirect("business_home", slug=memberships[0].business.slug)
    return render(request, "accounts/home.html", {"memberships": memberships})


@business_view()
def business_home(request: HttpRequest) -> HttpResponse:
    business = request.business
    now = timezone.now()
    start = now - timedelta(days=30)
    purchases = Purchase.objects.for_business(business)
    last30 = purchases.filter(occurred_at__gte=start, occurred_at__lte=now).aggregate(
        revenue=Sum("total"), count=Count("id"), customers=Count("customer", distinct=True)
    )
    count = last30["count"] or 0
    revenue = last30["revenue"] or Decimal("0")
    context = {
        "customers_total": Customer.objects.for_business(business).count(),
        "revenue_30": revenue,
        "purchases_30": count,
        "active_30": last30["customers"] or 0,
        "aov_30": (revenue / count).quantize(Decimal("0.01")) if count else Decimal("0"),
        "recent": purchases.filter(occurred_at__lte=now)
        .select_related("customer", "location")
        .order_by("-occurred_at")[:10],
    }
    return render(request, "accounts/business_home.html", context)


@business_view(role=Role.OWNER)
def business_settings(request: HttpRequest) -> HttpResponse:
    business = request.business
    form = BusinessSettingsForm(request.POST or None, instance=business)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Settings saved."))
        return redirect("business_settings", slug=business.slug)
    context = {
        "form": form,
        "locations": Location.objects.for_business(business),
        "staff": Membership.objects.filter(business=business)
        .select_related("user")
        .order_by("role", "user__username"),
    }
    return render(request, "accounts/settings.html", context)

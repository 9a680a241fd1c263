from django.core.paginator import Paginator
from django.db.models import Count, Max, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from regulars.accounts.tenancy import business_view, get_for_business
from regulars.customers.models import Customer


@business_view()
def customer_list(request: HttpRequest) -> HttpResponse:
    business = request.business
    q = request.GET.get("q", "").strip()
    customers = Customer.objects.for_business(business)
    customers = customers.search(q) if q else customers
    customers = customers.annotate(
        visits=Count("purchases"),
        spent=Sum("purchases__total"),
        last_visit=Max("purchases__occurred_at"),
    ).order_by("-last_visit", "name")
    page = Paginator(customers, 50).get_page(request.GET.get("page"))
    return render(request, "customers/list.html", {"page": page, "q": q})


@business_view()
def customer_detail(request: HttpRequest, code: str) -> HttpResponse:
    business = request.business
    customer = get_for_business(Customer, business, code=code)
    stats = customer.purchases.aggregate(
        visits=Count("id"), spent=Sum("total"), last_visit=Max("occurred_at")
    )
    visits = stats["visits"] or 0
    context = {
        "customer": customer,
        "stats": stats,
        "average_check": (stats["spent"] / visits).quantize(stats["spent"]) if visits else None,
        "timeline": customer.timeline.select_related("staff", "location")[:50],
        "tags": customer.tags.all(),
    }
    return render(request, "customers/detail.html", context)

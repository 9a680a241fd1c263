from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from regulars.accounts.models import Role
from regulars.accounts.tenancy import business_view, get_for_business
from regulars.sales.models import Product, Purchase


@business_view()
def purchase_list(request: HttpRequest) -> HttpResponse:
    purchases = (
        Purchase.objects.for_business(request.business)
        .select_related("customer", "location")
        .order_by("-occurred_at")
    )
    page = Paginator(purchases, 50).get_page(request.GET.get("page"))
    return render(request, "sales/purchase_list.html", {"page": page})


@business_view()
def purchase_detail(request: HttpRequest, code: str) -> HttpResponse:
    purchase = get_for_business(
        Purchase.objects.select_related("customer", "location", "cashier"),
        request.business,
        code=code,
    )
    context = {
        "purchase": purchase,
        "lines": purchase.lines.all(),
        "refunds": purchase.refunds.all(),
    }
    return render(request, "sales/purchase_detail.html", context)


@business_view(role=Role.MANAGER)
def product_list(request: HttpRequest) -> HttpResponse:
    products = Product.objects.for_business(request.business)
    return render(request, "sales/product_list.html", {"products": products})

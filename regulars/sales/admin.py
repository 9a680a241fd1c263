from django.contrib import admin

from regulars.sales.models import Product, Purchase, PurchaseLine, Refund


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["name", "category", "price", "business", "active"]
    list_filter = ["business", "category", "active"]
    search_fields = ["name", "sku"]


class LineInline(admin.TabularInline):
    model = PurchaseLine
    extra = 0
    raw_id_fields = ["product"]


@admin.register(Purchase)
class PurchaseAdmin(admin.ModelAdmin):
    list_display = ["code", "business", "occurred_at", "customer", "total", "refunded"]
    list_filter = ["business"]
    search_fields = ["code", "external_id", "customer__name"]
    raw_id_fields = ["customer", "cashier", "location"]
    date_hierarchy = "occurred_at"
    inlines = [LineInline]
    list_select_related = ["business", "customer"]


@admin.register(Refund)
class RefundAdmin(admin.ModelAdmin):
    list_display = ["code", "business", "purchase", "amount", "occurred_at"]
    raw_id_fields = ["purchase", "staff"]

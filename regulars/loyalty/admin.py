"""Admin: programs and the catalog are editable; the ledger and balances are read-only."""

from django.contrib import admin

from regulars.loyalty.models import (
    Account,
    LedgerEntry,
    Program,
    PromoCard,
    Reward,
    TierStatus,
    Voucher,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Rows written only by the domain functions (regulars.loyalty.ledger)."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "kind",
        "business",
        "active",
        "pending_days",
        "expiry_days",
        "refund_rule",
    ]
    list_filter = ["kind", "active", "business"]
    search_fields = ["name", "code"]
    readonly_fields = ["code", "created_at"]


@admin.register(Reward)
class RewardAdmin(admin.ModelAdmin):
    list_display = ["name", "program", "kind", "cost", "valid_days", "active"]
    list_filter = ["kind", "active", "program__business"]
    search_fields = ["name", "code"]
    readonly_fields = ["code", "created_at"]
    raw_id_fields = ["product"]


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["code", "customer", "program", "unit", "balance"]
    list_filter = ["unit", "program__business"]
    search_fields = ["code", "customer__name", "customer__card_code"]
    list_select_related = ["customer", "program"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = ["code", "at", "kind", "amount", "waived", "account", "staff", "reason"]
    list_filter = ["kind", "business"]
    search_fields = ["code", "operation", "account__customer__name", "account__code"]
    list_select_related = ["account__customer", "account__program", "staff"]
    date_hierarchy = "at"


@admin.register(Voucher)
class VoucherAdmin(ReadOnlyAdmin):
    list_display = ["code", "name", "customer", "status", "issued_at", "valid_until", "used_at"]
    list_filter = ["status", "business"]
    search_fields = ["code", "customer__name"]
    list_select_related = ["customer"]


@admin.register(PromoCard)
class PromoCardAdmin(ReadOnlyAdmin):
    list_display = ["code", "customer", "kind", "value", "status", "valid_until", "used_at"]
    list_filter = ["status", "kind", "business"]
    search_fields = ["code", "customer__name"]
    list_select_related = ["customer"]


@admin.register(TierStatus)
class TierStatusAdmin(ReadOnlyAdmin):
    list_display = ["customer", "program", "tier", "since", "period_ends_at"]
    list_filter = ["program"]
    search_fields = ["customer__name"]
    list_select_related = ["customer", "program"]

from django.contrib import admin

from regulars.analytics.models import AnalyticsSnapshot, CustomerScore


@admin.register(AnalyticsSnapshot)
class AnalyticsSnapshotAdmin(admin.ModelAdmin):
    """Read-only: the refresh writes these; the admin shows their state and last error."""

    list_display = ["business", "status", "progress", "computed_at", "duration_s", "updated_at"]
    list_filter = ["status"]
    readonly_fields = [f.name for f in AnalyticsSnapshot._meta.fields]
    list_select_related = ["business"]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(CustomerScore)
class CustomerScoreAdmin(admin.ModelAdmin):
    list_display = ["customer", "business", "segment", "p_alive", "expected_90d", "clv"]
    list_filter = ["business", "segment"]
    search_fields = ["customer__name", "customer__code"]
    readonly_fields = [f.name for f in CustomerScore._meta.fields]
    list_select_related = ["business", "customer"]

    def has_add_permission(self, request) -> bool:
        return False

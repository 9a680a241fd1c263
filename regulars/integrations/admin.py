from django.contrib import admin

from regulars.integrations.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    list_display = ["url", "business", "active", "consecutive_failures", "disabled_at"]
    list_filter = ["business", "active"]
    search_fields = ["url", "code"]
    exclude = ["secret"]


class AttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    readonly_fields = ["at", "status_code", "response_ms", "error", "response_excerpt"]
    can_delete = False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["code", "business", "event", "status", "attempts", "next_attempt_at"]
    list_filter = ["status", "event", "business"]
    search_fields = ["code"]
    raw_id_fields = ["endpoint"]
    readonly_fields = ["payload"]
    inlines = [AttemptInline]
    list_select_related = ["business"]

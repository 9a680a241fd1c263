from django.contrib import admin

from regulars.customers.models import Customer, Tag


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["name", "business", "phone", "email", "joined_at", "marketing_consent"]
    list_filter = ["business", "marketing_consent"]
    search_fields = ["name", "phone", "email", "card_code", "code"]
    readonly_fields = ["code"]
    raw_id_fields = ["home_location"]
    list_select_related = ["business"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "business"]
    list_filter = ["business"]

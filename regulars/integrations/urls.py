from django.urls import path

from regulars.integrations import views

urlpatterns = [
    path("", views.integrations, name="integrations"),
    path("keys/new/", views.apikey_create, name="apikey_create"),
    path("keys/<str:prefix>/revoke/", views.apikey_revoke, name="apikey_revoke"),
    path("webhooks/new/", views.webhook_create, name="webhook_create"),
    path("webhooks/<str:code>/", views.webhook_detail, name="webhook_detail"),
    path("webhooks/<str:code>/rotate/", views.webhook_rotate, name="webhook_rotate"),
    path("webhooks/<str:code>/enable/", views.webhook_enable, name="webhook_enable"),
    path("webhooks/<str:code>/delete/", views.webhook_delete, name="webhook_delete"),
    path("webhooks/<str:code>/test/", views.webhook_test, name="webhook_test"),
    path(
        "webhooks/<str:code>/deliveries/<str:delivery>/resend/",
        views.webhook_resend,
        name="webhook_resend",
    ),
    path("imports/", views.import_list, name="import_list"),
    path("imports/<str:code>/", views.import_detail, name="import_detail"),
    path("imports/<str:code>/progress/", views.import_progress, name="import_progress"),
    path("imports/<str:code>/start/", views.import_start, name="import_start"),
    path("imports/<str:code>/bad-lines.csv", views.import_errors, name="import_errors"),
    path("imports/<str:code>/skipped.csv", views.import_skipped, name="import_skipped"),
    path("imports/<str:code>/delete-files/", views.import_delete_files, name="import_delete_files"),
    path("export/<str:kind>.csv", views.export_csv, name="export_csv"),
    path("customers/<str:code>/data.json", views.customer_data, name="customer_data"),
    path("customers/<str:code>/erase/", views.customer_erase, name="customer_erase"),
]

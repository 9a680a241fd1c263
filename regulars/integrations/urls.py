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
]

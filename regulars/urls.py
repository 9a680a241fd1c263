from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from regulars.accounts import views as accounts_views
from regulars.api import api

urlpatterns = [
    path("", accounts_views.home, name="home"),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", api.urls),
    path("healthz", accounts_views.healthz, name="healthz"),
    path("b/<slug:slug>/", include("regulars.accounts.urls")),
    # Customer-facing pages (join, card, …): no login, unguessable codes in the URL.
    path("c/", include("regulars.portal.urls")),
    path("b/<slug:slug>/customers/", include("regulars.customers.urls")),
    path("b/<slug:slug>/sales/", include("regulars.sales.urls")),
    path("b/<slug:slug>/loyalty/", include("regulars.loyalty.urls")),
    path("b/<slug:slug>/analytics/", include("regulars.analytics.urls")),
    path("b/<slug:slug>/integrations/", include("regulars.integrations.urls")),
]

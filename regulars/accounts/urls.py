from django.urls import path

from regulars.accounts import views

urlpatterns = [
    path("", views.business_home, name="business_home"),
    path("settings/", views.business_settings, name="business_settings"),
]

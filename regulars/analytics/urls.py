from django.urls import path

from regulars.analytics import views

urlpatterns = [
    path("", views.dashboard, name="analytics_dashboard"),
    path("status/", views.status, name="analytics_status"),
    path("recompute/", views.recompute, name="analytics_recompute"),
    path("<slug:chart>.csv", views.report_csv, name="analytics_csv"),
]

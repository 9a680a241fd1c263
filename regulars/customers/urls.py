from django.urls import path

from regulars.customers import views

urlpatterns = [
    path("", views.customer_list, name="customer_list"),
    path("<str:code>/", views.customer_detail, name="customer_detail"),
]

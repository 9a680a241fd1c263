from django.urls import path

from regulars.sales import views

urlpatterns = [
    path("", views.purchase_list, name="purchase_list"),
    path("products/", views.product_list, name="product_list"),
    path("<str:code>/", views.purchase_detail, name="purchase_detail"),
]

from django.urls import path

from regulars.portal import views

urlpatterns = [
    path("join/<str:join_code>/", views.join, name="portal_join"),
    path("card/<str:token>/", views.card, name="portal_card"),
    path("card/<str:token>/language/", views.card_language, name="portal_card_language"),
]

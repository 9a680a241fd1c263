from django.urls import path

from regulars.loyalty import views

urlpatterns = [
    path("counter/", views.counter, name="counter"),
    path("counter/enrol/", views.counter_enrol, name="counter_enrol"),
    path("counter/<str:code>/", views.counter_panel, name="counter_panel"),
    path("counter/<str:code>/sale/", views.counter_sale, name="counter_sale"),
    path("counter/<str:code>/redeem/", views.counter_redeem, name="counter_redeem"),
    path("counter/<str:code>/use/", views.counter_use, name="counter_use"),
    path("counter/<str:code>/credit/", views.counter_credit, name="counter_credit"),
    path("counter/<str:code>/undo/", views.counter_undo, name="counter_undo"),
    path("poster/", views.poster, name="join_poster"),
    path("programs/", views.program_list, name="program_list"),
    path("programs/new/", views.program_create, name="program_create"),
    path("programs/<str:code>/", views.program_edit, name="program_edit"),
    path("programs/<str:code>/rewards/new/", views.reward_create, name="reward_create"),
    path("programs/<str:code>/rewards/<str:reward>/", views.reward_edit, name="reward_edit"),
]

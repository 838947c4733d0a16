from django.urls import path

from portal.account import views

app_name = "account"

urlpatterns = [
    path("account/", views.overview, name="overview"),
    path("account/status.json", views.application_status, name="status"),
    path("account/register/", views.register, name="register"),
    path("account/delete/", views.delete, name="delete"),
    path("account/banks/", views.bank_search, name="banks"),
    path("account/banks/<str:bank_code>/branches/", views.branch_search, name="branches"),
]

from django.urls import path

from canyu.accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("organisation/", views.organization, name="organization"),
    path("language/", views.set_language, name="language"),
]

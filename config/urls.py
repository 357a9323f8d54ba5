from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from studies import views_tokens as tokens

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("profile/", tokens.profile, name="profile"),
    path(
        "profile/tokens/<int:token_id>/revoke/",
        tokens.revoke_token,
        name="profile_revoke_token",
    ),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/auth/token/", tokens.obtain_token, name="api-token"),
    path("api/v1/", include("config.api")),
    path("", include("coding.urls")),
    path("", include("exports.urls")),
    path("", include("studies.urls")),
]

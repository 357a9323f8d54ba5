from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from studies import views_people as people
from studies import views_tokens as tokens
from studies.health import health

urlpatterns = [
    path("login/", people.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", people.signup, name="signup"),
    # Django's own password views, with the templates in templates/registration/.
    path("password/change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path(
        "password/change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("password/reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path(
        "password/reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "password/reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "password/reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path("profile/", tokens.profile, name="profile"),
    path(
        "profile/tokens/<int:token_id>/revoke/",
        tokens.revoke_token,
        name="profile_revoke_token",
    ),
    path("admin/", admin.site.urls),
    path("health/", health, name="health"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The split view serves its start-up script as a file, so the page needs no inline script
    # under the Content Security Policy; its template links a style sheet instead of a <style>.
    path(
        "api/docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api_docs.html"),
        name="api-docs",
    ),
    path("api/v1/auth/token/", tokens.obtain_token, name="api-token"),
    path("api/v1/", include("config.api")),
    path("", include("coding.urls")),
    path("", include("exports.urls")),
    path("", include("studies.urls")),
    path("", include("surveys.urls")),
]

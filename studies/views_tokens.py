"""The token endpoint (POST /api/v1/auth/token/) and the profile page where people make and
revoke their personal API tokens."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import authenticate
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from studies.models import APIToken
from studies.nul import JSONParser

# --- The token endpoint ---------------------------------------------------------------------


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(
        write_only=True, trim_whitespace=False, style={"input_type": "password"}
    )
    name = serializers.CharField(
        required=False, max_length=100, help_text="What the token is for, e.g. 'laptop script'."
    )

    def validate(self, attrs: dict) -> dict:
        user = authenticate(
            self.context["request"]._request,
            username=attrs["username"],
            password=attrs["password"],
        )
        if user is None:
            # Deliberately vague: say neither which part was wrong nor whether the user exists.
            raise serializers.ValidationError(
                "Unable to log in with these credentials.", code="authorization"
            )
        attrs["user"] = user
        return attrs


class TokenResponseSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="The secret; shown this once, never stored.")
    name = serializers.CharField()
    prefix = serializers.CharField(help_text="The token's first characters, to recognise it.")


class ObtainTokenView(APIView):
    """Exchange a username and password for a new personal token."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [JSONParser, FormParser]

    @extend_schema(
        request=TokenRequestSerializer,
        responses={
            201: TokenResponseSerializer,
            400: OpenApiResponse(
                description="Missing fields or wrong credentials (field -> messages; which part "
                "was wrong is not said)."
            ),
        },
        auth=[],
        examples=[
            OpenApiExample(
                "Request",
                value={"username": "alice", "password": "…", "name": "laptop"},
                request_only=True,
            )
        ],
        tags=["auth"],
    )
    def post(self, request: Request) -> Response:
        serializer = TokenRequestSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        name = data.get("name") or "API token"
        token, secret = APIToken.issue(user=data["user"], name=name)
        return Response(
            {"token": secret, "name": token.name, "prefix": token.prefix},
            status=status.HTTP_201_CREATED,
        )


obtain_token = ObtainTokenView.as_view()


# --- The profile page -----------------------------------------------------------------------


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        label="Token name",
        help_text="What it is for, so you know which one to revoke later, e.g. 'analysis laptop'.",
    )


def _own_token(request: HttpRequest, token_id: int) -> APIToken:
    """Only the person's own tokens exist for them: anyone else's is a 404."""
    token = APIToken.objects.filter(pk=token_id, user=request.user).first()
    if token is None:
        raise Http404("No such token.")
    return token


@login_required
@require_http_methods(["GET", "POST"])
def profile(request: HttpRequest) -> HttpResponse:
    """My tokens, and a form for a new one. The new secret is rendered in the POST's response
    only (not redirected, not kept in the session), so it is shown exactly once."""
    new_secret = None
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        _token, new_secret = APIToken.issue(user=request.user, name=form.cleaned_data["name"])
        form = TokenForm()
    return render(
        request,
        "studies/profile.html",
        {
            "form": form,
            "new_secret": new_secret,
            "tokens": APIToken.objects.filter(user=request.user),
        },
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def revoke_token(request: HttpRequest, token_id: int) -> HttpResponse:
    """GET asks for confirmation, naming the token; POST revokes it."""
    token = _own_token(request, token_id)
    if request.method == "POST":
        token.revoke()
        messages.success(
            request, f"Revoked “{token.name}” ({token.prefix}…): scripts using it now get 401."
        )
        return redirect("profile")
    return render(request, "studies/token_revoke.html", {"token": token})

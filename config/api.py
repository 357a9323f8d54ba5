"""The REST API under /api/v1/."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from coding.api import CodingViewSet, MemoViewSet, SuggestionDecisionViewSet, reliability

router = DefaultRouter()
router.register("codings", CodingViewSet, basename="coding")
router.register("memos", MemoViewSet, basename="memo")
router.register("suggestions", SuggestionDecisionViewSet, basename="suggestion")

urlpatterns = [
    path("studies/<slug:slug>/reliability/", reliability, name="study-reliability"),
    *router.urls,
]

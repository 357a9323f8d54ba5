"""The REST API under /api/v1/."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from coding.api import CodingViewSet, MemoViewSet, SuggestionDecisionViewSet, reliability
from exports.api import export_file, export_table

router = DefaultRouter()
router.register("codings", CodingViewSet, basename="coding")
router.register("memos", MemoViewSet, basename="memo")
router.register("suggestions", SuggestionDecisionViewSet, basename="suggestion")

urlpatterns = [
    path("studies/<slug:slug>/reliability/", reliability, name="study-reliability"),
    path("studies/<slug:slug>/exports/<str:name>/", export_table, name="study-export-table"),
    path(
        "studies/<slug:slug>/exports/<str:name>.<str:fmt>",
        export_file,
        name="study-export-file",
    ),
    *router.urls,
]

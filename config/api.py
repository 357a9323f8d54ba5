"""The REST API under /api/v1/."""

from rest_framework.routers import DefaultRouter

from coding.api import CodingViewSet, MemoViewSet, SuggestionDecisionViewSet

router = DefaultRouter()
router.register("codings", CodingViewSet, basename="coding")
router.register("memos", MemoViewSet, basename="memo")
router.register("suggestions", SuggestionDecisionViewSet, basename="suggestion")

urlpatterns = router.urls

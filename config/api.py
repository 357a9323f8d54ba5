"""The REST API under /api/v1/."""

from django.urls import path
from rest_framework.routers import DefaultRouter

from coding.api import (
    AssignmentViewSet,
    CodeViewSet,
    CodingViewSet,
    MemoViewSet,
    SuggestionDecisionViewSet,
    bulk_codings,
    reliability,
)
from coding.api_machine import (
    MachineListView,
    MachineSteerView,
    MachineSuggestView,
    MachineTrainView,
)
from exports.api import export_cell, export_file, export_pack, export_table
from exports.api_audit import audit_trail
from exports.api_qdpx import QdcView, QdpxView
from studies.api import (
    DocumentViewSet,
    MemberInvitationViewSet,
    MembershipViewSet,
    ParticipantViewSet,
    ParticipantWithdrawView,
    PrivateNamesView,
    RecordingView,
    RosterImportView,
    StudyViewSet,
    TranscriptImportView,
    VariableViewSet,
    WorkshopViewSet,
)
from studies.api_jobs import JobDetailView, JobFileView, JobListView
from surveys.api import LinkViewSet, QuestionViewSet, ResponseViewSet, SurveyViewSet

STUDY = r"studies/(?P<slug>[-a-zA-Z0-9_]+)"
SURVEY = rf"{STUDY}/surveys/(?P<survey>[-a-zA-Z0-9_]+)"

router = DefaultRouter()
router.register("codings", CodingViewSet, basename="coding")
router.register("memos", MemoViewSet, basename="memo")
router.register("suggestions", SuggestionDecisionViewSet, basename="suggestion")
router.register("studies", StudyViewSet, basename="study")
router.register(f"{STUDY}/workshops", WorkshopViewSet, basename="study-workshop")
router.register(f"{STUDY}/participants", ParticipantViewSet, basename="study-participant")
router.register(f"{STUDY}/variables", VariableViewSet, basename="study-variable")
router.register(f"{STUDY}/documents", DocumentViewSet, basename="study-document")
router.register(f"{STUDY}/codes", CodeViewSet, basename="study-code")
router.register(f"{STUDY}/memberships", MembershipViewSet, basename="study-membership")
router.register(f"{STUDY}/invitations", MemberInvitationViewSet, basename="study-invitation")
router.register(f"{STUDY}/assignments", AssignmentViewSet, basename="study-assignment")
router.register(f"{STUDY}/surveys", SurveyViewSet, basename="study-survey")
router.register(f"{SURVEY}/questions", QuestionViewSet, basename="study-survey-question")
router.register(f"{SURVEY}/links", LinkViewSet, basename="study-survey-link")
router.register(f"{SURVEY}/responses", ResponseViewSet, basename="study-survey-response")

# Explicit paths come first, so that no router pattern (e.g. codings/{pk}/) shadows them.
urlpatterns = [
    path("codings/bulk/", bulk_codings, name="coding-bulk"),
    path("studies/<slug:slug>/reliability/", reliability, name="study-reliability"),
    path(
        "studies/<slug:slug>/imports/roster/",
        RosterImportView.as_view(),
        name="study-import-roster",
    ),
    path(
        "studies/<slug:slug>/imports/transcripts/",
        TranscriptImportView.as_view(),
        name="study-import-transcripts",
    ),
    path(
        "studies/<slug:slug>/documents/<int:document_id>/recording/",
        RecordingView.as_view(),
        name="study-document-recording",
    ),
    path(
        "studies/<slug:slug>/participants/<str:code>/withdraw/",
        ParticipantWithdrawView.as_view(),
        name="study-participant-withdraw",
    ),
    path(
        "studies/<slug:slug>/private-names/",
        PrivateNamesView.as_view(),
        name="study-private-names",
    ),
    path("studies/<slug:slug>/pack/", export_pack, name="study-pack"),
    path("studies/<slug:slug>/exports/<str:name>/", export_table, name="study-export-table"),
    path("studies/<slug:slug>/exports/<str:name>/cell/", export_cell, name="study-export-cell"),
    path(
        "studies/<slug:slug>/exports/<str:name>.<str:fmt>",
        export_file,
        name="study-export-file",
    ),
    path("studies/<slug:slug>/qdpx/", QdpxView.as_view(), name="study-qdpx"),
    path("studies/<slug:slug>/qdc/", QdcView.as_view(), name="study-qdc"),
    path("studies/<slug:slug>/audit/", audit_trail, name="study-audit"),
    path("studies/<slug:slug>/jobs/", JobListView.as_view(), name="study-jobs"),
    path("studies/<slug:slug>/jobs/<int:job_id>/", JobDetailView.as_view(), name="study-job"),
    path(
        "studies/<slug:slug>/jobs/<int:job_id>/file/",
        JobFileView.as_view(),
        name="study-job-file",
    ),
    path("studies/<slug:slug>/machine/", MachineListView.as_view(), name="study-machine"),
    path(
        "studies/<slug:slug>/machine/train/", MachineTrainView.as_view(), name="study-machine-train"
    ),
    path(
        "studies/<slug:slug>/machine/suggest/",
        MachineSuggestView.as_view(),
        name="study-machine-suggest",
    ),
    path(
        "studies/<slug:slug>/machine/steer/", MachineSteerView.as_view(), name="study-machine-steer"
    ),
    *router.urls,
]

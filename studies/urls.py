from django.urls import path

from studies import views, views_recordings
from studies import views_people as people

app_name = "studies"

urlpatterns = [
    path("", views.study_list, name="list"),
    path("studies/<slug:slug>/", views.overview, name="overview"),
    path("studies/<slug:slug>/documents/", views.document_list, name="documents"),
    path(
        "studies/<slug:slug>/documents/<int:document_id>/",
        views.document_detail,
        name="document",
    ),
    path(
        "studies/<slug:slug>/documents/<int:document_id>/recording/",
        views_recordings.recording_file,
        name="recording",
    ),
    path(
        "studies/<slug:slug>/documents/<int:document_id>/recording/attach/",
        views_recordings.recording_attach,
        name="recording_attach",
    ),
    path(
        "studies/<slug:slug>/documents/<int:document_id>/recording/remove/",
        views_recordings.recording_remove,
        name="recording_remove",
    ),
    path("studies/<slug:slug>/participants/", views.participant_list, name="participants"),
    path("studies/<slug:slug>/members/", views.member_list, name="members"),
    path("studies/<slug:slug>/members/invite/", people.invite, name="invite"),
    path(
        "studies/<slug:slug>/invitations/<int:invitation_id>/revoke/",
        people.revoke_invitation,
        name="invitation_revoke",
    ),
    path(
        "studies/<slug:slug>/invitations/<int:invitation_id>/resend/",
        people.resend_invitation,
        name="invitation_resend",
    ),
    # Public: the signed token in the path is the credential (studies.invitations).
    path("invitations/<str:token>/", people.invitation, name="invitation"),
    path("studies/<slug:slug>/import/", views.import_start, name="import"),
    path("studies/<slug:slug>/import/<uuid:batch>/", views.import_review, name="import_review"),
]

from django.urls import path

from studies import views, views_jobs, views_privacy, views_recordings, views_withdrawal
from studies import views_people as people

app_name = "studies"

urlpatterns = [
    path("", views.study_list, name="list"),
    # Before "studies/<slug>/": these two slugs are reserved (studies.services.RESERVED_SLUGS).
    path("studies/new/", views.study_new, name="new"),
    path("studies/archived/", views.archived_list, name="archived"),
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
    path("studies/<slug:slug>/settings/", views.study_settings, name="settings"),
    path("studies/<slug:slug>/archive/", views.study_archive, name="archive"),
    path("studies/<slug:slug>/restore/", views.study_restore, name="restore"),
    path("studies/<slug:slug>/delete/", views.study_delete, name="delete"),
    path(
        "studies/<slug:slug>/documents/<int:document_id>/edit/",
        views.document_edit,
        name="document_edit",
    ),
    path(
        "studies/<slug:slug>/documents/<int:document_id>/delete/",
        views.document_delete,
        name="document_delete",
    ),
    path(
        "studies/<slug:slug>/workshops/<int:workshop_id>/edit/",
        views.workshop_edit,
        name="workshop_edit",
    ),
    path("studies/<slug:slug>/participants/", views.participant_list, name="participants"),
    path(
        "studies/<slug:slug>/participants/<int:participant_id>/",
        views.participant_detail,
        name="participant",
    ),
    path(
        "studies/<slug:slug>/participants/<int:participant_id>/withdraw/",
        views_withdrawal.participant_withdraw,
        name="participant_withdraw",
    ),
    path("studies/<slug:slug>/jobs/", views_jobs.job_list, name="jobs"),
    path("studies/<slug:slug>/jobs/<int:job_id>/", views_jobs.job_detail, name="job"),
    path("studies/<slug:slug>/jobs/<int:job_id>/file/", views_jobs.job_file, name="job_file"),
    path("studies/<slug:slug>/privacy/", views_privacy.privacy, name="privacy"),
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

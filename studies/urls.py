from django.urls import path

from studies import views, views_recordings

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
    path("studies/<slug:slug>/import/", views.import_start, name="import"),
    path("studies/<slug:slug>/import/<uuid:batch>/", views.import_review, name="import_review"),
]

from django.urls import path

from exports import views, views_audit, views_qdpx

app_name = "exports"

S = "studies/<slug:slug>/"

urlpatterns = [
    path(S + "exports/", views.export_page, name="page"),
    path(S + "exports/download/<str:fmt>/", views.export_download, name="download"),
    path(S + "exports/pack.zip", views.export_pack, name="pack"),
    path(S + "exports/cell/", views.export_cell, name="cell"),
    # REFI-QDA (views_qdpx): the project and codebook out, a project or codebook in.
    path(S + "exports/project.qdpx", views_qdpx.qdpx_download, name="qdpx"),
    path(S + "exports/codebook.qdc", views_qdpx.qdc_download, name="qdc"),
    path(S + "import/project/", views_qdpx.qdpx_import, name="qdpx_import"),
    path(S + "import/project/<uuid:upload>/", views_qdpx.qdpx_review, name="qdpx_review"),
    # The audit trail (owners): events and coding activity, as a page and as .csv.
    path(S + "audit/", views_audit.audit_page, name="audit"),
    path(S + "audit/audit.csv", views_audit.audit_csv, name="audit_csv"),
]

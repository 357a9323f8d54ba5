from django.urls import path

from exports import views

app_name = "exports"

S = "studies/<slug:slug>/"

urlpatterns = [
    path(S + "exports/", views.export_page, name="page"),
    path(S + "exports/download/<str:fmt>/", views.export_download, name="download"),
    path(S + "exports/pack.zip", views.export_pack, name="pack"),
    path(S + "exports/cell/", views.export_cell, name="cell"),
]

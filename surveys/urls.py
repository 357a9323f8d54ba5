from django.urls import path, re_path

from surveys import views, views_builder, views_imports, views_owner, views_results

app_name = "surveys"

urlpatterns = [
    path("s/<str:link>/", views.respond, name="respond"),
    # --- The owner's pages: list, settings, links and progress (views_owner) ---
    path("studies/<slug:slug>/surveys/", views_owner.survey_list, name="list"),
    path("studies/<slug:slug>/surveys/new/", views_owner.survey_new, name="new"),
    # A survey's overview: any slug but the names of the section's own pages ("import" is the
    # XLSForm import's), which the settings form refuses as survey slugs.
    re_path(
        r"^studies/(?P<slug>[-a-zA-Z0-9_]+)/surveys/(?!(?:new|import)/)(?P<survey>[-a-zA-Z0-9_]+)/\Z",
        views_owner.survey_detail,
        name="detail",
    ),
    path(
        "studies/<slug:slug>/surveys/<slug:survey>/settings/",
        views_owner.survey_settings,
        name="settings",
    ),
    path(
        "studies/<slug:slug>/surveys/<slug:survey>/delete/",
        views_owner.survey_delete,
        name="delete",
    ),
    path(
        "studies/<slug:slug>/surveys/<slug:survey>/links/", views_owner.survey_links, name="links"
    ),
    path(
        "studies/<slug:slug>/surveys/<slug:survey>/links.csv",
        views_owner.survey_links_csv,
        name="links_csv",
    ),
    # --- end of the owner's pages ---
    # --- Imports and individual responses: XLSForm in and out, response files (views_imports) ---
    path(
        "studies/<slug:slug>/surveys/import/",
        views_imports.xlsform_import,
        name="import_xlsform",
    ),
    path(
        "studies/<slug:slug>/surveys/<slug:survey>/xlsform.xlsx",
        views_imports.xlsform_export,
        name="export_xlsform",
    ),
    path(
        "studies/<slug:slug>/surveys/<slug:survey>/responses/",
        views_imports.response_list,
        name="responses",
    ),
    path(
        "studies/<slug:slug>/surveys/<slug:survey>/responses/import/",
        views_imports.responses_import,
        name="import_responses",
    ),
    path(
        "studies/<slug:slug>/surveys/<slug:survey>/responses/<int:response_id>/",
        views_imports.response_detail,
        name="response",
    ),
    # --- end of imports ---
    # --- The builder: pages, questions, options, translations (views_builder) ---
    path("studies/<slug:slug>/surveys/<slug:survey>/build/", views_builder.build, name="builder"),
    path(
        "studies/<slug:slug>/surveys/<slug:survey>/build/questions/new/",
        views_builder.question_new,
        name="builder_question_new",
    ),
    path(
        "studies/<slug:slug>/surveys/<slug:survey>/build/questions/<int:question_id>/",
        views_builder.question_edit,
        name="builder_question",
    ),
    path(
        "studies/<slug:slug>/surveys/<slug:survey>/build/questions/<int:question_id>/delete/",
        views_builder.question_delete,
        name="builder_question_delete",
    ),
    path(
        "studies/<slug:slug>/surveys/<slug:survey>/build/pages/new/",
        views_builder.page_new,
        name="builder_page_new",
    ),
    path(
        "studies/<slug:slug>/surveys/<slug:survey>/build/pages/<int:page_id>/",
        views_builder.page_edit,
        name="builder_page",
    ),
    path(
        "studies/<slug:slug>/surveys/<slug:survey>/build/pages/<int:page_id>/delete/",
        views_builder.page_delete,
        name="builder_page_delete",
    ),
    path(
        "studies/<slug:slug>/surveys/<slug:survey>/build/move/",
        views_builder.move,
        name="builder_move",
    ),
    path(
        "studies/<slug:slug>/surveys/<slug:survey>/build/translations/",
        views_builder.translations,
        name="builder_translations",
    ),
    path(
        "studies/<slug:slug>/surveys/<slug:survey>/build/preview/",
        views_builder.preview,
        name="builder_preview",
    ),
    # --- end of the builder ---
    # --- Results (views_results) ---
    path(
        "studies/<slug:slug>/surveys/<slug:survey>/results/",
        views_results.results,
        name="results",
    ),
    # --- end of results ---
]

from django.urls import path

from surveys import views

app_name = "surveys"

urlpatterns = [
    path("s/<str:link>/", views.respond, name="respond"),
    # --- The owner's pages: list, settings, links and progress (views_owner) ---
    # --- end of the owner's pages ---
    # --- Imports and individual responses: XLSForm in and out, response files (views_imports) ---
    # --- end of imports ---
    # --- The builder: pages, questions, options, translations (views_builder) ---
    # --- end of the builder ---
    # --- Results (views_results) ---
    # --- end of results ---
]

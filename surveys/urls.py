from django.urls import path

from surveys import views

app_name = "surveys"

urlpatterns = [
    path("s/<str:link>/", views.respond, name="respond"),
    # The owner's pages (list, settings, links and progress, imports):
    # The builder (pages, questions, options, translations):
    # Results:
]

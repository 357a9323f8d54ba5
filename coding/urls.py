from django.urls import path

from coding.views import queue, workbench

app_name = "coding"

S = "studies/<slug:slug>/"

urlpatterns = [
    # The coding view of one document.
    path(S + "documents/<int:document_id>/code/", workbench.workbench, name="workbench"),
    # Assignments, the coder's queue, memos, study coding settings.
    path(S + "queue/", queue.my_queue, name="queue"),
    path(S + "assignments/", queue.assignments, name="assignments"),
    path(S + "memos/", queue.memo_list, name="memos"),
    path(S + "blind-coding/", queue.blind_coding, name="blind_coding"),
    # codebook (coding/views/codebook.py)
    # search and suggestions (coding/views/search.py)
]

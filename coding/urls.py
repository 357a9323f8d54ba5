from django.urls import path

from coding.views import codebook, machine, queue, reliability, search, workbench

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
    path(S + "codebook/", codebook.codebook, name="codebook"),
    path(S + "codebook/new/", codebook.code_new, name="code_new"),
    path(S + "codebook/import/", codebook.codebook_import, name="codebook_import"),
    path(S + "codebook/codebook.csv", codebook.codebook_csv, name="codebook_csv"),
    path(S + "codebook/codebook.xlsx", codebook.codebook_xlsx, name="codebook_xlsx"),
    path(S + "codebook/<int:code_id>/", codebook.code_detail, name="code"),
    path(S + "codebook/<int:code_id>/edit/", codebook.code_edit, name="code_edit"),
    path(S + "codebook/<int:code_id>/move/", codebook.code_move, name="code_move"),
    path(S + "codebook/<int:code_id>/merge/", codebook.code_merge, name="code_merge"),
    path(S + "codebook/<int:code_id>/delete/", codebook.code_delete, name="code_delete"),
    path(S + "codebook/<int:code_id>/report.csv", codebook.code_report_csv, name="code_report_csv"),
    path(
        S + "codebook/<int:code_id>/report.xlsx", codebook.code_report_xlsx, name="code_report_xlsx"
    ),
    # search and suggestions (coding/views/search.py)
    path(S + "search/", search.search_page, name="search"),
    path(S + "search/code/", search.code_results, name="code_results"),
    path(
        S + "documents/<int:document_id>/suggestions/",
        search.suggestions_json,
        name="suggestions",
    ),
    # inter-coder reliability, rounds and adjudication (coding/views/reliability.py)
    path(S + "reliability/", reliability.reliability, name="reliability"),
    path(S + "reliability/compute/", reliability.reliability_job, name="reliability_job"),
    path(S + "reliability/rounds/", reliability.rounds, name="rounds"),
    path(
        S + "reliability/rounds/<int:round_id>/close/",
        reliability.round_close,
        name="round_close",
    ),
    path(S + "reliability/compare/", reliability.compare, name="compare"),
    path(
        S + "reliability/compare/<int:document_id>/",
        reliability.side_by_side,
        name="side_by_side",
    ),
    # machine coding (coding/views/machine.py)
    path(S + "machine/", machine.machine_page, name="machine"),
    path(S + "machine/train/", machine.machine_train, name="machine_train"),
    path(S + "machine/suggest/", machine.machine_suggest, name="machine_suggest"),
    path(S + "machine/llm/", machine.machine_llm, name="machine_llm"),
]

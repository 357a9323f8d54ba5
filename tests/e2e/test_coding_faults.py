"""The coding view when the server cannot complete a change: Bob sees why, the page sends the
change again with the same Idempotency-Key, and the database holds it exactly once."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from playwright.sync_api import Page, expect
from rest_framework.request import Request
from rest_framework.response import Response

from coding import api
from coding.models import Coding
from studies.models import Document
from tests.e2e.test_workbench import code, drag_select, open_workbench, session  # noqa: F401

UNAVAILABLE = {
    "detail": "The database was unavailable, so this request may not have been completed. "
    "Try again in a moment.",
    "code": "database_unavailable",
}


def failed_loads(script_errors: list[str], status: str) -> list[str]:
    return [e for e in script_errors if f"the server responded with a status of {status}" in e]


def lose_first_answer(monkeypatch: pytest.MonkeyPatch, action: str) -> list[tuple[str, int]]:
    """The coding API's `action` ("create", "destroy") completes every time, but its first
    answer is lost on the way back (a 503 instead). The answer is replaced in the live server,
    so nothing waits on a browser route's handler in the test's thread. Returns each call's
    Idempotency-Key and the status the server meant to send."""
    real = getattr(api.CodingViewSet, action)
    calls: list[tuple[str, int]] = []

    def answer(view: object, request: Request, *args: object, **kwargs: object) -> Response:
        response = real(view, request, *args, **kwargs)
        calls.append((request.headers.get("Idempotency-Key"), response.status_code))
        return Response(UNAVAILABLE, status=503) if len(calls) == 1 else response

    monkeypatch.setattr(api.CodingViewSet, action, answer)
    return calls


def test_a_lost_answer_is_shown_and_the_retry_adds_exactly_one_coding(
    page: Page,
    live_server: object,
    session: Document,  # noqa: F811
    script_errors: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    page.set_viewport_size({"width": 1024, "height": 800})
    calls = lose_first_answer(monkeypatch, "create")
    open_workbench(page, live_server, session)

    drag_select(page, "#turn-2", "explain my situation")
    page.get_by_role("option", name="Negotiability").click()

    status = page.locator("#wb-status-line")
    expect(status).to_have_text("Not saved yet: the database was unavailable. Trying again in 1 s…")
    expect(status).to_have_attribute("data-kind", "error")
    expect(page.locator("#turn-2 mark.wb-seg")).to_have_text("explain my situation")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    expect(status).to_contain_text("Saved: Negotiability")
    keys = [key for key, _status in calls]
    assert len(keys) == 2 and keys[0] and keys[0] == keys[1]
    coding = Coding.objects.get()
    assert (coding.code, coding.coder.username) == (code("Negotiability"), "bob")
    assert session.text[coding.start : coding.end] == "explain my situation"
    assert failed_loads(script_errors, "503") == script_errors != []
    script_errors.clear()


def test_a_database_failure_on_the_server_is_retried_until_it_saves(
    page: Page,
    live_server: object,
    session: Document,  # noqa: F811
    script_errors: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real_write = api.write
    failures = []

    def write_after_one_failure(*args: object, **kwargs: object) -> object:
        if not failures:
            failures.append(1)
            raise OperationalError("terminating connection due to administrator command")
        return real_write(*args, **kwargs)

    monkeypatch.setattr(api, "write", write_after_one_failure)
    open_workbench(page, live_server, session)

    drag_select(page, "#turn-2", "machine")
    page.get_by_role("option", name="Accuracy").click()

    status = page.locator("#wb-status-line")
    expect(status).to_have_text("Not saved yet: the database was unavailable. Trying again in 1 s…")
    expect(status).to_contain_text("Saved: Accuracy")
    coding = Coding.objects.get()
    assert session.text[coding.start : coding.end] == "machine"
    assert failures == [1]
    assert failed_loads(script_errors, "503") == script_errors != []
    script_errors.clear()


def test_a_removal_whose_answer_was_lost_is_sent_again_and_answered_once(
    page: Page,
    live_server: object,
    session: Document,  # noqa: F811
    people: dict,
    script_errors: list[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    start = session.text.index("explain my situation")
    Coding.objects.create(
        document=session,
        code=code("Negotiability"),
        coder=people["bob"],
        start=start,
        end=start + len("explain my situation"),
    )
    calls = lose_first_answer(monkeypatch, "destroy")
    open_workbench(page, live_server, session)

    page.locator("#turn-2 .wb-margin").get_by_role("button", name="Negotiability").click()
    page.get_by_role("dialog", name="Coding").get_by_role("button", name="Remove").click()

    status = page.locator("#wb-status-line")
    expect(status).to_have_text("Not saved yet: the database was unavailable. Trying again in 1 s…")
    expect(status).to_contain_text("Removed Negotiability")
    # Both reached the server: the first removed the coding, the second got the first's 204.
    answers = [answer for _key, answer in calls]
    assert answers == [204, 204]
    expect(page.locator("#turn-2 mark")).to_have_count(0)
    assert not Coding.objects.exists()
    assert failed_loads(script_errors, "503") == script_errors != []
    script_errors.clear()

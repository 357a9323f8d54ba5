"""The production security features in a real browser, with the Content Security Policy on
(the `page` fixture fails a test on any console error, which is where Chromium reports what the
policy blocked): the browser reports a blocked inline script; the pages whose scripts moved to
files still work; the API documentation renders; and a person locked out after too many failed
logins reads when to try again, on a page that fits 1024 px and meets WCAG AA contrast."""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from playwright.sync_api import expect

from studies.models import Membership, Study
from tests.e2e.conftest import log_in
from tests.e2e.test_layout import CONTRAST, OVERFLOW

PASSWORD = "pw-alice-long-enough"


def owner_and_study() -> Study:
    alice = User.objects.create_user("alice", "alice@example.org", PASSWORD)
    bob = User.objects.create_user("bob", "bob@example.org", PASSWORD)
    study = Study.objects.create(slug="adm", name="Algorithmic decision-making")
    Membership.objects.create(study=study, user=alice, role="owner")
    Membership.objects.create(study=study, user=bob, role="coder")
    return study


def test_the_browser_blocks_and_reports_inline_script(
    page, live_server, transactional_db, script_errors
) -> None:
    page.goto(f"{live_server.url}/login/")
    page.evaluate(
        """() => { const s = document.createElement('script');
        s.textContent = 'document.body.dataset.ran = "yes"'; document.body.append(s); }"""
    )

    assert page.evaluate("document.body.dataset.ran") is None
    assert any("Content Security Policy" in error for error in script_errors), script_errors
    script_errors.clear()


def test_the_pages_whose_scripts_moved_to_files_still_work(
    page, live_server, transactional_db, script_errors
) -> None:
    owner_and_study()
    page.set_viewport_size({"width": 1024, "height": 800})
    log_in(page, live_server, "alice", PASSWORD)

    # The new-study form suggests a slug from the name.
    page.goto(f"{live_server.url}/studies/new/")
    page.get_by_label("Name").first.fill("Négociabilité in Hiring")
    expect(page.get_by_label("Slug")).to_have_value("negociabilite-in-hiring")

    # Removing a member asks first; saying no keeps them.
    page.goto(f"{live_server.url}/studies/adm/members/")
    questions = []

    def answer(dialog: object) -> None:
        questions.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", answer)
    page.locator("tr", has_text="bob").get_by_role("button", name="Remove").click()
    assert questions == ["Remove bob from this study? Their codings stay in the study."]
    assert Membership.objects.filter(user__username="bob").exists()

    # A new API token is selected whole when its field is focused, ready to copy.
    page.goto(f"{live_server.url}/profile/")
    page.get_by_label("Token name").fill("laptop")
    page.get_by_role("button", name="Create token").click()
    field = page.get_by_label("Token", exact=True)
    field.focus()
    selected = page.evaluate(
        "() => { const f = document.getElementById('token-secret');"
        " return f.value.slice(f.selectionStart, f.selectionEnd); }"
    )
    assert selected.startswith("clq_") and selected == field.input_value()


def test_the_api_documentation_renders_under_the_policy(
    page, live_server, transactional_db, script_errors
) -> None:
    owner_and_study()
    log_in(page, live_server, "alice", PASSWORD)

    response = page.goto(f"{live_server.url}/api/docs/")

    assert "script-src 'self'" in response.headers["content-security-policy"]
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Colloquy API")
    expect(page.locator(".opblock-summary-path", has_text="/api/v1/studies/").first).to_be_visible()


def test_a_locked_out_person_reads_when_to_try_again(
    page, live_server, transactional_db, script_errors
) -> None:
    owner_and_study()
    page.set_viewport_size({"width": 1024, "height": 800})
    for attempt in range(5):
        page.goto(f"{live_server.url}/login/")
        page.get_by_label("Username").fill("alice")
        page.get_by_label("Password").fill(f"not-it-{attempt}")
        page.get_by_role("button", name="Log in").click()

    expect(page.get_by_role("heading", name="Too many failed logins")).to_be_visible()
    expect(page.get_by_role("alert")).to_contain_text("After 5 failed attempts")
    expect(page.get_by_text(re.compile(r"Try again after \d\d:\d\d \(UTC\)"))).to_be_visible()
    assert page.evaluate(OVERFLOW)["scrollWidth"] <= 1024
    assert page.evaluate(CONTRAST) == []

    # The right password is refused too until the pause is over.
    page.get_by_role("link", name="Back to the login page").click()
    log_in(page, live_server, "alice", PASSWORD)
    expect(page.get_by_role("heading", name="Too many failed logins")).to_be_visible()
    page.wait_for_load_state("load")
    # Chromium logs each 429 answer as a resource that failed to load: that is the point here.
    # Anything else (a blocked script or style) still fails the test.
    script_errors[:] = [e for e in script_errors if "status of 429" not in e]

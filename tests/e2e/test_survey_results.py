"""The survey results page in Chromium at 1024 pixels: it fits the window, its text (the
Likert bars' and the heatmap's included) meets WCAG AA contrast, the diverging bar puts
disagreement left of the middle line and agreement right of it, and the grouping is chosen
with the keyboard-usable form."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import Page
from pytest_django.live_server_helper import LiveServer

from studies.models import Membership, Study
from studies.services import import_roster
from surveys.models import Survey
from tests.conftest import ROSTER
from tests.e2e.conftest import log_in
from tests.e2e.test_layout import CONTRAST, OVERFLOW
from tests.test_survey_results import LIKERT, add_options, add_question, build_pre, respond

PASSWORD = "results-pass-123"


@pytest.fixture
def waves(transactional_db: None) -> tuple[Study, Survey]:
    """A study viewed by Victor, with a pre survey and its post wave, both answered by the
    five roster participants; the post wave also has a 7-point scale."""
    victor = User.objects.create_user("victor", "victor@example.org", PASSWORD)
    study = Study.objects.create(slug="adm", name="Algorithmic decision-making")
    Membership.objects.create(study=study, user=victor, role="viewer")
    import_roster(study=study, filename="roster.csv", data=ROSTER.encode())
    before = build_pre(study, "before")
    after = build_pre(study, "after")
    after.wave_of = before
    after.save()
    seven = add_question(after, 7, "fair", "likert7")
    add_options(seven, [(f"p{n}", f"Point {n} of seven") for n in range(1, 8)])
    people = {p.code: p for p in study.participants.all()}
    scale = [code for code, _label in LIKERT]
    rows = [("P01", 1, 4), ("P02", 2, 5), ("P03", 3, 3), ("P04", 5, 4), ("P05", 2, 2)]
    for n, (code, b, a) in enumerate(rows):
        common = {"rank": "a b c" if n % 2 else "c a", "domains": "hiring justice"}
        respond(
            before,
            people[code],
            {"trust": scale[b - 1], "grid.hiring": "low", "age": str(20 + n), **common},
        )
        respond(
            after,
            people[code],
            {
                "trust": scale[a - 1],
                "grid.hiring": ["low", "mid", "high"][n % 3],
                "grid.medicine": "high",
                "age": str(21 + n),
                "fair": f"p{n + 2}",
                "when": "2025-06-0" + str(n + 1),
                "why": "Because.",
                **common,
            },
        )
    return study, after


def test_the_results_page_fits_reads_and_diverges(
    page: Page, live_server: LiveServer, waves: tuple[Study, Survey]
) -> None:
    study, after = waves
    log_in(page, live_server, "victor", PASSWORD)
    page.set_viewport_size({"width": 1024, "height": 800})
    url = f"{live_server.url}/studies/{study.slug}/surveys/{after.slug}/results/"
    problems = []
    for query in ["", "?by=country", "?by=variable:age+band&include_drafts=1"]:
        page.goto(url + query)
        page.wait_for_load_state("load")
        found = page.evaluate(OVERFLOW)
        if found["scrollWidth"] > found["innerWidth"]:
            problems.append(f"{query or 'overall'} scrolls sideways: {found['culprits']}")
        problems += [f"{query or 'overall'}: {failure}" for failure in page.evaluate(CONTRAST)]
    assert not problems, "\n".join(problems)

    page.goto(url)
    assert page.get_by_role("heading", name="Change between waves").is_visible()
    # The first bar: trust after the workshop, scores 4, 5, 3, 4, 2 (Disagree, Neither, two
    # Agree, Strongly agree): disagreement ends at the middle line's left, agreement starts
    # at its right, and the neutral answers straddle it.
    bar = page.locator(".lk-track").first
    axis = bar.locator(".lk-axis").bounding_box()
    middle = axis["x"] + axis["width"] / 2
    boxes = {tone: bar.locator(f".lk-{tone}").bounding_box() for tone in ("n1", "mid", "p1", "p3")}
    assert boxes["n1"]["x"] + boxes["n1"]["width"] <= boxes["mid"]["x"] + 1
    assert boxes["mid"]["x"] < middle < boxes["mid"]["x"] + boxes["mid"]["width"]
    assert boxes["p1"]["x"] >= middle and boxes["p3"]["x"] > boxes["p1"]["x"]
    assert bar.locator(".lk-p1").inner_text() == "40%"

    # Grouping from the form, by keyboard.
    page.get_by_label("Group by").select_option("country")
    page.get_by_label("Include unfinished responses (drafts)").check()
    page.get_by_role("button", name="Show").press("Enter")
    page.wait_for_url("**by=country**")
    assert page.locator("th", has_text="GB").first.is_visible()
    assert page.locator(".lk-row .lk-group", has_text="FI").first.is_visible()

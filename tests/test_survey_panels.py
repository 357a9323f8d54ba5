"""The surveys app on the foundation's pages: a participant's page shows owners each survey's
state for them with a link to their answers, and the study's API counts surveys."""

from __future__ import annotations

from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from studies.models import Study
from surveys.models import Invitation, Response, Survey
from tests.helpers import client_for


def test_owners_see_each_surveys_state_on_a_participants_page(
    roster_study: Study, people: dict[str, User]
) -> None:
    pre = Survey.objects.create(study=roster_study, slug="pre", title="Before")
    post = Survey.objects.create(study=roster_study, slug="post", title="After")
    Survey.objects.create(study=roster_study, slug="later", title="Later")
    p01 = roster_study.participants.get(code="P01")
    Invitation.objects.create(survey=pre, participant=p01)
    Invitation.objects.create(survey=post, participant=p01)
    answered = Response.objects.create(survey=pre, participant=p01, submitted_at=timezone.now())
    Response.objects.create(survey=post, participant=p01)
    url = reverse("studies:participant", args=[roster_study.slug, p01.pk])

    html = client_for(people["alice"]).get(url).content.decode()
    assert "P01&#x27;s surveys</h2>" in html
    assert reverse("surveys:response", args=[roster_study.slug, "pre", answered.pk]) in html
    for state in ("completed", "started", "not invited"):
        assert f"<td>{state}</td>" in html

    # Individual answers are the owners': viewers and coders see no panel.
    for name in ("victor", "bob"):
        html = client_for(people[name]).get(url).content.decode()
        assert "surveys</h2>" not in html
        assert "/responses/" not in html


def test_the_studys_counts_name_its_surveys_and_submitted_responses(
    roster_study: Study, people: dict[str, User]
) -> None:
    survey = Survey.objects.create(study=roster_study, slug="pre", title="Before")
    p01, p02 = roster_study.participants.order_by("code")[:2]
    Response.objects.create(survey=survey, participant=p01, submitted_at=timezone.now())
    Response.objects.create(survey=survey, participant=p02)  # a draft is not counted
    body = client_for(people["victor"]).get(f"/api/v1/studies/{roster_study.slug}/").json()
    assert body["counts"]["surveys"] == 1
    assert body["counts"]["survey_responses"] == 1

from __future__ import annotations

from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from studies.models import Membership, Study
from tests.helpers import client_for


def url() -> str:
    return reverse("studies:members", args=["adm"])


def test_members_see_the_member_list_and_outsiders_do_not(
    study: Study, people: dict[str, User]
) -> None:
    page = client_for(people["victor"]).get(url())
    assert page.status_code == 200
    html = page.content.decode()
    assert "alice" in html and "bob" in html
    assert "Add a member" not in html
    assert client_for(people["mallory"]).get(url()).status_code == 404
    assert Client().get(url()).status_code == 302


def test_only_owners_change_members(study: Study, people: dict[str, User]) -> None:
    for name in ("victor", "bob"):
        response = client_for(people[name]).post(
            url(), {"action": "add", "username": "mallory", "role": "coder"}
        )
        assert response.status_code == 403
    assert not study.memberships.filter(user=people["mallory"]).exists()


def test_an_owner_adds_changes_and_removes_a_member(study: Study, people: dict[str, User]) -> None:
    alice = client_for(people["alice"])

    added = alice.post(
        url(), {"action": "add", "username": "mallory", "role": "coder"}, follow=True
    )
    assert "mallory joined Algorithmic decision-making as coder." in added.content.decode()
    membership = Membership.objects.get(study=study, user=people["mallory"])

    alice.post(url(), {"action": "role", "membership": membership.pk, "role": "viewer"})
    membership.refresh_from_db()
    assert membership.role == "viewer"

    alice.post(url(), {"action": "remove", "membership": membership.pk})
    assert not Membership.objects.filter(pk=membership.pk).exists()


def test_adding_an_unknown_or_existing_user_says_why(study: Study, people: dict[str, User]) -> None:
    alice = client_for(people["alice"])
    unknown = alice.post(url(), {"action": "add", "username": "nobody", "role": "coder"})
    assert "There is no user called &#x27;nobody&#x27;." in unknown.content.decode()
    again = alice.post(url(), {"action": "add", "username": "bob", "role": "coder"})
    assert "bob is already a member of this study." in again.content.decode()


def test_the_last_owner_cannot_leave_or_be_demoted(study: Study, people: dict[str, User]) -> None:
    alice = client_for(people["alice"])
    own = Membership.objects.get(study=study, user=people["alice"])

    demoted = alice.post(
        url(), {"action": "role", "membership": own.pk, "role": "coder"}, follow=True
    )
    removed = alice.post(url(), {"action": "remove", "membership": own.pk}, follow=True)

    assert "alice is the only owner; add another owner first." in demoted.content.decode()
    assert "alice is the only owner and cannot be removed." in removed.content.decode()
    own.refresh_from_db()
    assert own.role == "owner"


def test_a_membership_of_another_study_cannot_be_touched(
    study: Study, people: dict[str, User]
) -> None:
    other = Study.objects.create(slug="other", name="Other")
    foreign = Membership.objects.create(study=other, user=people["mallory"], role="owner")
    response = client_for(people["alice"]).post(
        url(), {"action": "remove", "membership": foreign.pk}
    )
    assert response.status_code == 404
    assert Membership.objects.filter(pk=foreign.pk).exists()

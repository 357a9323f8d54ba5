"""Invitations: Alice, the owner, invites people by e-mail address or username; the signed link
expires, can be revoked or replaced, works once, and never lowers a member's role."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from studies import invitations
from studies.invitations import Problem
from studies.models import MemberInvitation, Membership, Study
from tests.helpers import client_for

MEMBERS = "/studies/adm/members/"
API = "/api/v1/studies/adm/invitations/"


def invite(study: Study, people: dict[str, User], **who: object) -> MemberInvitation:
    return invitations.invite(study=study, invited_by=people["alice"], role="coder", **who)


def link_path(invitation: MemberInvitation) -> str:
    return reverse("studies:invitation", args=[invitations.token_for(invitation)])


def mailed_invitation(body: str) -> MemberInvitation | None:
    """The invitation an e-mail's link opens. (The link is compared by what it opens, not as
    text: a signature made a second later carries another timestamp.)"""
    found = re.search(r"http://testserver/invitations/([^/\s]+)/", body)
    assert found, body
    return invitations.open_link(found.group(1)).invitation


def age(invitation: MemberInvitation, days: float) -> None:
    MemberInvitation.objects.filter(pk=invitation.pk).update(
        created_at=timezone.now() - timedelta(days=days)
    )
    invitation.refresh_from_db()


# --- The link's rules -----------------------------------------------------------------------


def test_a_fresh_link_opens_its_invitation(study: Study, people: dict[str, User]) -> None:
    invitation = invite(study, people, email="dora@example.org")
    opened = invitations.open_link(invitations.token_for(invitation))
    assert opened.ok and opened.invitation == invitation


def test_a_changed_link_is_tampered(study: Study, people: dict[str, User]) -> None:
    invitation = invite(study, people, email="dora@example.org")
    other = invite(study, people, email="erik@example.org")
    token = invitations.token_for(invitation)
    _pk, rest = token.split(":", 1)
    for bad in (token[:-2], f"{other.pk}:{rest}", "nonsense", token + "x"):
        assert invitations.open_link(bad) == invitations.Opened(None, Problem.TAMPERED)


def test_a_link_expires_with_its_invitation(
    study: Study, people: dict[str, User], settings: object
) -> None:
    settings.COLLOQUY_INVITATION_DAYS = 14
    invitation = invite(study, people, email="dora@example.org")
    age(invitation, 13.9)
    assert invitations.problem_with(invitation) is None
    age(invitation, 14.01)
    assert invitations.problem_with(invitation) is Problem.EXPIRED
    assert not invitations.open_link(invitations.token_for(invitation)).ok


def test_a_signature_older_than_the_lifetime_is_expired(
    study: Study, people: dict[str, User], settings: object
) -> None:
    invitation = invite(study, people, email="dora@example.org")
    token = invitations.token_for(invitation)
    settings.COLLOQUY_INVITATION_DAYS = 0
    opened = invitations.open_link(token)
    assert opened.problem is Problem.EXPIRED and opened.invitation == invitation


def test_revoked_replaced_and_used_links_say_so(study: Study, people: dict[str, User]) -> None:
    revoked = invite(study, people, email="dora@example.org")
    invitations.revoke(revoked)
    assert invitations.open_link(invitations.token_for(revoked)).problem is Problem.REVOKED

    first = invite(study, people, email="erik@example.org")
    again = invitations.send_again(first, by=people["alice"])
    assert invitations.open_link(invitations.token_for(first)).problem is Problem.REPLACED
    assert invitations.open_link(invitations.token_for(again)).ok

    invitations.accept(again, people["mallory"])
    assert invitations.open_link(invitations.token_for(again)).problem is Problem.USED


def test_accepting_adds_the_membership_once(study: Study, people: dict[str, User]) -> None:
    invitation = invite(study, people, email="mallory@example.org")
    said = invitations.accept(invitation, people["mallory"])
    assert said == "You joined Algorithmic decision-making as coder."
    assert study.memberships.get(user=people["mallory"]).role == "coder"
    invitation.refresh_from_db()
    assert invitation.accepted_by == people["mallory"] and invitation.accepted_at is not None
    with pytest.raises(Exception, match="already been accepted"):
        invitations.accept(invitation, people["mallory"])


def test_an_invitation_never_lowers_a_role_but_raises_one(
    study: Study, people: dict[str, User]
) -> None:
    # Invitations are made before the people became members (otherwise they are refused).
    Membership.objects.filter(user__in=[people["bob"], people["victor"]]).delete()
    to_bob = invite(study, people, user=people["bob"])
    to_victor = invite(study, people, user=people["victor"])
    Membership.objects.create(study=study, user=people["bob"], role="owner")
    Membership.objects.create(study=study, user=people["victor"], role="viewer")

    assert "accepting keeps your role (owner)" in invitations.what_accepting_does(
        to_bob, people["bob"]
    )
    said = invitations.accept(to_bob, people["bob"])
    assert said == (
        "You are already owner in Algorithmic decision-making; the invitation as coder leaves "
        "your role as it is."
    )
    assert study.memberships.get(user=people["bob"]).role == "owner"

    said = invitations.accept(to_victor, people["victor"])
    assert said == "You were viewer in Algorithmic decision-making and are now coder."
    assert study.memberships.get(user=people["victor"]).role == "coder"


def test_an_invitation_to_a_username_is_for_that_account_only(
    study: Study, people: dict[str, User]
) -> None:
    invitation = invite(study, people, user=people["mallory"])
    with pytest.raises(Exception, match="another account"):
        invitations.accept(invitation, people["alice"])
    assert invitations.waiting_for(people["mallory"]).get() == invitation
    assert not invitations.waiting_for(people["alice"]).exists()


def test_members_and_the_already_invited_are_refused(study: Study, people: dict[str, User]) -> None:
    assert invitations.invitee_problem(study, user=people["bob"]) == (
        "bob is already a member of this study (coder)."
    )
    assert invitations.invitee_problem(study, email="BOB@example.org") == (
        "bob is already a member of this study (coder)."
    )
    invite(study, people, email="dora@example.org")
    assert "has an open invitation already" in invitations.invitee_problem(
        study, email="Dora@Example.org"
    )


# --- The members page -----------------------------------------------------------------------


def test_the_members_page_ladder_for_inviting(study: Study, people: dict[str, User]) -> None:
    form = {"invitee": "dora@example.org", "role": "viewer"}
    invite_url = reverse("studies:invite", args=["adm"])
    anonymous = Client().post(invite_url, form)
    assert anonymous.status_code == 302 and anonymous["Location"].startswith("/login/")
    assert client_for(people["mallory"]).post(invite_url, form).status_code == 404
    for name in ("victor", "bob"):
        assert client_for(people[name]).post(invite_url, form).status_code == 403
        page = client_for(people[name]).get(MEMBERS).content.decode()
        assert "Invite someone" not in page
    assert not MemberInvitation.objects.exists()
    assert mail.outbox == []

    response = client_for(people["alice"]).post(invite_url, form, follow=True)
    html = response.content.decode()
    assert "Invitation for dora@example.org as viewer sent to dora@example.org." in html
    assert "Open invitations" in html and "dora@example.org" in html
    [message] = mail.outbox
    assert message.to == ["dora@example.org"]
    assert message.subject == "Invitation to Algorithmic decision-making on Colloquy"
    invitation = MemberInvitation.objects.get()
    assert mailed_invitation(message.body) == invitation
    assert "alice invites you" in message.body and "as viewer" in message.body


def test_inviting_someone_twice_or_nobody_says_why(study: Study, people: dict[str, User]) -> None:
    alice = client_for(people["alice"])
    invite_url = reverse("studies:invite", args=["adm"])
    alice.post(invite_url, {"invitee": "dora@example.org", "role": "coder"})
    again = alice.post(invite_url, {"invitee": "dora@example.org", "role": "coder"})
    assert again.status_code == 400
    assert "dora@example.org has an open invitation already" in again.content.decode()
    nobody = alice.post(invite_url, {"invitee": "nobody", "role": "coder"})
    assert "There is no user called &#x27;nobody&#x27;" in nobody.content.decode()
    bad = alice.post(invite_url, {"invitee": "dora@", "role": "coder"})
    assert "Enter a valid email address." in bad.content.decode()
    assert MemberInvitation.objects.count() == 1


def test_owners_revoke_and_send_again(study: Study, people: dict[str, User]) -> None:
    invitation = invite(study, people, email="dora@example.org")
    resend = reverse("studies:invitation_resend", args=["adm", invitation.pk])
    assert client_for(people["bob"]).post(resend).status_code == 403
    assert client_for(people["mallory"]).post(resend).status_code == 404

    alice = client_for(people["alice"])
    page = alice.post(resend, follow=True).content.decode()
    assert "sent again to dora@example.org" in page
    fresh = MemberInvitation.objects.get(revoked_at__isnull=True)
    assert mailed_invitation(mail.outbox[-1].body) == fresh

    revoke = reverse("studies:invitation_revoke", args=["adm", fresh.pk])
    assert client_for(people["victor"]).post(revoke).status_code == 403
    page = alice.post(revoke, follow=True).content.decode()
    assert "Revoked the invitation for dora@example.org" in page
    assert "No open invitations." in page
    assert alice.get(revoke).status_code == 405


# --- Opening the link -----------------------------------------------------------------------


def test_a_signed_in_person_accepts_on_the_invitation_page(
    study: Study, people: dict[str, User]
) -> None:
    invitation = invite(study, people, email="m@example.org")
    mallory = client_for(people["mallory"])
    page = mallory.get(link_path(invitation)).content.decode()
    assert "Join Algorithmic decision-making" in page
    assert "Accepting makes you coder in this study." in page
    assert not study.memberships.filter(user=people["mallory"]).exists()

    accepted = mallory.post(link_path(invitation), {"action": "accept"}, follow=True)
    assert accepted.redirect_chain[-1][0] == "/studies/adm/"
    assert "You joined Algorithmic decision-making as coder." in accepted.content.decode()
    assert study.memberships.get(user=people["mallory"]).role == "coder"


def test_an_anonymous_visitor_creates_an_account_through_the_link(
    study: Study, people: dict[str, User], settings: object
) -> None:
    settings.COLLOQUY_SIGNUP = False  # the link works even with sign-up switched off
    invitation = invite(study, people, email="dora@example.org")
    client = Client()
    page = client.get(link_path(invitation)).content.decode()
    assert "Log in to accept" in page and "/login/?next=" in page
    assert 'value="dora@example.org"' in page

    weak = client.post(
        link_path(invitation),
        {
            "action": "signup",
            "username": "dora",
            "email": "dora@example.org",
            "password1": "123",
            "password2": "123",
        },
    )
    assert weak.status_code == 400
    assert "This password is too short." in weak.content.decode()
    assert not User.objects.filter(username="dora").exists()

    joined = client.post(
        link_path(invitation),
        {
            "action": "signup",
            "username": "dora",
            "email": "dora@example.org",
            "password1": "a long walk to Turku",
            "password2": "a long walk to Turku",
        },
        follow=True,
    )
    assert joined.redirect_chain[-1][0] == "/studies/adm/"
    dora = User.objects.get(username="dora")
    assert study.memberships.get(user=dora).role == "coder"
    assert "You joined Algorithmic decision-making as coder." in joined.content.decode()


def test_bad_links_say_what_is_wrong_and_reveal_no_study(
    study: Study, people: dict[str, User]
) -> None:
    tampered = Client().get(reverse("studies:invitation", args=["1:abc:def"]))
    assert tampered.status_code == 404
    html = tampered.content.decode()
    assert "This invitation link does not work" in html
    assert "Algorithmic decision-making" not in html and "alice" not in html

    invitation = invite(study, people, email="dora@example.org")
    age(invitation, 30)
    expired = Client().get(link_path(invitation))
    assert expired.status_code == 410
    assert "This invitation has expired" in expired.content.decode()
    assert "owner of “Algorithmic decision-making” to send you a new" in expired.content.decode()

    used = invite(study, people, email="m@example.org")
    invitations.accept(used, people["mallory"])
    again = client_for(people["mallory"]).post(link_path(used), {"action": "accept"})
    assert again.status_code == 410
    assert "This invitation was used already" in again.content.decode()


def test_a_username_invitation_waits_on_that_users_study_list(
    study: Study, people: dict[str, User]
) -> None:
    other = Study.objects.create(slug="other", name="Other study")
    Membership.objects.create(study=other, user=people["alice"], role="owner")
    invitation = invitations.invite(
        study=other, invited_by=people["alice"], role="viewer", user=people["bob"]
    )
    bob = client_for(people["bob"])
    listing = bob.get("/").content.decode()
    assert "Invitations for you" in listing and "Other study" in listing
    assert "Invitations for you" not in client_for(people["victor"]).get("/").content.decode()

    token = invitations.token_for(invitation)
    bob.post(reverse("studies:invitation", args=[token]), {"action": "accept"})
    assert other.memberships.get(user=people["bob"]).role == "viewer"
    assert "Invitations for you" not in bob.get("/").content.decode()

    # Anyone else holding the link is told it is someone else's.
    to_victor = invitations.invite(
        study=other, invited_by=people["alice"], role="viewer", user=people["victor"]
    )
    path = link_path(to_victor)
    refused = client_for(people["mallory"]).post(path, {"action": "accept"})
    assert refused.status_code == 403
    assert not other.memberships.filter(user=people["mallory"]).exists()


# --- The API --------------------------------------------------------------------------------


def test_the_api_ladder(study: Study, people: dict[str, User]) -> None:
    body = {"invitee": "dora@example.org", "role": "coder"}
    assert Client().get(API).status_code in (401, 403)
    assert client_for(people["mallory"]).get(API).status_code == 404
    assert client_for(people["mallory"]).post(API, body, "application/json").status_code == 404
    for name in ("victor", "bob"):
        assert client_for(people[name]).get(API).status_code == 403
        assert client_for(people[name]).post(API, body, "application/json").status_code == 403
    assert mail.outbox == []

    alice = client_for(people["alice"])
    created = alice.post(API, body, "application/json")
    assert created.status_code == 201
    data = created.json()
    assert data["email"] == "dora@example.org" and data["role"] == "coder"
    assert data["status"] == "open" and data["invited_by"] == "alice"
    assert "invitee" not in data
    [message] = mail.outbox
    assert message.to == ["dora@example.org"]

    listed = alice.get(API).json()["results"]
    assert [row["id"] for row in listed] == [data["id"]]
    twice = alice.post(API, body, "application/json")
    assert twice.status_code == 400
    assert "open invitation already" in twice.json()["invitee"][0]

    resent = alice.post(f"{API}{data['id']}/resend/")
    assert resent.status_code == 201 and len(mail.outbox) == 2
    assert client_for(people["bob"]).delete(f"{API}{resent.json()['id']}/").status_code == 403
    assert alice.delete(f"{API}{resent.json()['id']}/").status_code == 204
    statuses = {row["id"]: row["status"] for row in alice.get(API).json()["results"]}
    assert statuses == {data["id"]: "revoked", resent.json()["id"]: "revoked"}


def test_the_api_invites_by_username(study: Study, people: dict[str, User]) -> None:
    created = client_for(people["alice"]).post(
        API, {"invitee": "mallory", "role": "viewer"}, "application/json"
    )
    assert created.status_code == 201
    assert created.json()["username"] == "mallory" and created.json()["email"] == ""
    assert mail.outbox[0].to == ["mallory@example.org"]

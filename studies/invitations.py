"""Invitations to join a study: the signed link, its lifetime, and what accepting it does.

A link carries the invitation's id signed with the site's secret key and the time it was made
(`TimestampSigner`), so that nobody can forge one or turn one invitation into another. It works
until the invitation is COLLOQUY_INVITATION_DAYS old, and only while the invitation is open
(neither accepted nor revoked). "Send again" replaces an invitation with a fresh one, so that
the lifetime counts from the latest e-mail and the older link says it was replaced.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import Q, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from studies.access import ROLE_RANK
from studies.audit import record
from studies.models import AuditEvent, MemberInvitation, Membership, Study

SALT = "colloquy.studies.member-invitation"


def lifetime() -> timedelta:
    return timedelta(days=settings.COLLOQUY_INVITATION_DAYS)


def expires_at(invitation: MemberInvitation) -> datetime:
    return invitation.created_at + lifetime()


def is_expired(invitation: MemberInvitation, now: datetime | None = None) -> bool:
    return (now or timezone.now()) >= expires_at(invitation)


def open_invitations() -> QuerySet[MemberInvitation]:
    """Invitations that can still be accepted: neither used, revoked nor expired."""
    return MemberInvitation.objects.filter(
        accepted_at__isnull=True,
        revoked_at__isnull=True,
        created_at__gt=timezone.now() - lifetime(),
    )


def waiting_for(user: object) -> QuerySet[MemberInvitation]:
    """The open invitations addressed to this user by username, shown on their study list."""
    return open_invitations().filter(user=user).select_related("study", "invited_by")


# --- The link -------------------------------------------------------------------------------


def token_for(invitation: MemberInvitation) -> str:
    return signing.TimestampSigner(salt=SALT).sign(str(invitation.pk))


def link_for(invitation: MemberInvitation, request: HttpRequest) -> str:
    """The full address of the invitation's page, on the host the owner is using."""
    return request.build_absolute_uri(reverse("studies:invitation", args=[token_for(invitation)]))


class Problem(enum.Enum):
    """Why a link does not work, in the words the invitee reads."""

    TAMPERED = "This invitation link is not valid: it may have been cut short or changed."
    EXPIRED = "This invitation has expired."
    REVOKED = "This invitation was withdrawn by the study's owner."
    REPLACED = "This invitation was sent again, and the newer e-mail holds the link that works."
    USED = "This invitation has already been accepted."
    SOMEONE_ELSE = "This invitation is addressed to another account."


@dataclass(frozen=True)
class Opened:
    """What a link leads to: the invitation, or the reason it does not work (and, for a link
    that names a real invitation, that invitation, so the page can say which study to ask)."""

    invitation: MemberInvitation | None
    problem: Problem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


def open_link(token: str) -> Opened:
    try:
        pk = signing.TimestampSigner(salt=SALT).unsign(token, max_age=lifetime())
    except signing.SignatureExpired:
        # The signature is genuine, so the id in it is too: name the study to ask.
        pk = token.split(signing.Signer().sep, 1)[0]
        invitation = MemberInvitation.objects.filter(pk=pk).select_related("study").first()
        if invitation is None:
            return Opened(None, Problem.TAMPERED)
        return Opened(invitation, problem_with(invitation) or Problem.EXPIRED)
    except signing.BadSignature:
        return Opened(None, Problem.TAMPERED)
    invitation = (
        MemberInvitation.objects.filter(pk=pk).select_related("study", "user", "invited_by").first()
    )
    if invitation is None:
        # Deleted with its study: for the reader, a link that leads nowhere.
        return Opened(None, Problem.TAMPERED)
    return Opened(invitation, problem_with(invitation))


def problem_with(invitation: MemberInvitation) -> Problem | None:
    if invitation.accepted_at is not None:
        return Problem.USED
    if invitation.revoked_at is not None:
        newer = MemberInvitation.objects.filter(
            study_id=invitation.study_id,
            created_at__gt=invitation.created_at,
            email=invitation.email,
            user_id=invitation.user_id,
        )
        return Problem.REPLACED if newer.exists() else Problem.REVOKED
    if is_expired(invitation):
        return Problem.EXPIRED
    return None


# --- Inviting -------------------------------------------------------------------------------


def resolve_invitee(text: str) -> dict[str, object]:
    """ "dora@example.org" or "dora" -> the keyword arguments of `invite` (email or user)."""
    text = text.strip()
    if "@" in text:
        validate_email(text)
        return {"email": text}
    user = get_user_model().objects.filter(username=text).first()
    if user is None:
        raise ValidationError(
            f"There is no user called {text!r}; to invite someone without an account, "
            "give their e-mail address."
        )
    return {"user": user}


def invitee_problem(study: Study, *, email: str = "", user: object = None) -> str | None:
    """Why this person cannot be invited (already a member, already invited), or None."""
    name = user.get_username() if user is not None else email
    address = user.email if user is not None else email
    same_person = Q(user=user) if user is not None else Q(pk__in=[])
    if address:
        same_person |= Q(user__email__iexact=address)
    member = study.memberships.filter(same_person).select_related("user").first()
    if member is not None:
        name = member.user.get_username()
        return f"{name} is already a member of this study ({member.role})."
    if address:
        same_person |= Q(email__iexact=address)
    if open_invitations().filter(same_person, study=study).exists():
        return f"{name} has an open invitation already: send it again from the list below."
    return None


def invite(
    *, study: Study, invited_by: object, role: str, email: str = "", user: object = None
) -> MemberInvitation:
    """A new open invitation to an e-mail address or to an existing user (not yet sent)."""
    problem = invitee_problem(study, email=email, user=user)
    if problem:
        raise ValidationError(problem)
    with transaction.atomic():
        invitation = MemberInvitation.objects.create(
            study=study, email="" if user else email, user=user, role=role, invited_by=invited_by
        )
        _record(invitation, f"Invited {_who(invitation)} as {role}")
    return invitation


def _who(invitation: MemberInvitation) -> str:
    return invitation.user.get_username() if invitation.user_id else invitation.email


def _record(
    invitation: MemberInvitation, summary: str, *, user: object = None, **details: object
) -> None:
    record(
        invitation.study,
        AuditEvent.Action.MEMBERS,
        summary,
        user=user,
        details={"invitation": invitation.pk, "role": invitation.role, **details},
    )


def send_again(invitation: MemberInvitation, *, by: object) -> MemberInvitation:
    """Replace an open or expired invitation with a new one for the same person and role."""
    with transaction.atomic():
        invitation.revoked_at = timezone.now()
        invitation.save(update_fields=["revoked_at"])
        fresh = MemberInvitation.objects.create(
            study=invitation.study,
            email=invitation.email,
            user=invitation.user,
            role=invitation.role,
            invited_by=by,
        )
        _record(fresh, f"Sent {_who(fresh)}'s invitation again", replaces=invitation.pk)
        return fresh


def revoke(invitation: MemberInvitation) -> None:
    if invitation.is_open:
        with transaction.atomic():
            invitation.revoked_at = timezone.now()
            invitation.save(update_fields=["revoked_at"])
            _record(
                invitation, f"Revoked the invitation of {_who(invitation)} as {invitation.role}"
            )


def address_of(invitation: MemberInvitation) -> str:
    return invitation.user.email if invitation.user_id else invitation.email


def send(invitation: MemberInvitation, *, request: HttpRequest) -> bool:
    """E-mail the link; False when there is no address (a username whose account has none:
    they find the invitation on their list of studies)."""
    address = address_of(invitation)
    if not address:
        return False
    link = link_for(invitation, request)
    inviter = invitation.invited_by.get_username() if invitation.invited_by else "An owner"
    days = settings.COLLOQUY_INVITATION_DAYS
    body = (
        f"{inviter} invites you to the study “{invitation.study.name}” on Colloquy as "
        f"{invitation.role}.\n\n"
        f"Open this link to accept (it works for {days} days, once):\n{link}\n\n"
        "If you have no account yet, the link lets you create one. If you did not expect this "
        "e-mail, ignore it.\n"
    )
    send_mail(
        f"Invitation to {invitation.study.name} on Colloquy",
        body,
        settings.DEFAULT_FROM_EMAIL,
        [address],
    )
    return True


# --- Accepting ------------------------------------------------------------------------------


def accept(invitation: MemberInvitation, user: object) -> str:
    """Add the membership and close the invitation; returns what happened, in words. An
    existing member keeps a higher role: an invitation never lowers anyone."""
    with transaction.atomic():
        invitation = MemberInvitation.objects.select_for_update().get(pk=invitation.pk)
        problem = problem_with(invitation)
        if problem is None and invitation.user_id and invitation.user_id != user.pk:
            problem = Problem.SOMEONE_ELSE
        if problem is not None:
            raise ValidationError(problem.value)
        study = invitation.study
        membership, created = Membership.objects.get_or_create(
            study=study, user=user, defaults={"role": invitation.role}
        )
        previous_role = membership.role
        if created:
            outcome = f"You joined {study.name} as {invitation.role}."
        elif ROLE_RANK[membership.role] < ROLE_RANK[invitation.role]:
            previous = membership.role
            membership.role = invitation.role
            membership.save(update_fields=["role"])
            outcome = f"You were {previous} in {study.name} and are now {invitation.role}."
        else:
            outcome = (
                f"You are already {membership.role} in {study.name}; the invitation as "
                f"{invitation.role} leaves your role as it is."
            )
        invitation.accepted_at = timezone.now()
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
        name = user.get_username()
        if created:
            said = f"{name} accepted the invitation and joined as {invitation.role}"
        elif membership.role == invitation.role and previous_role != invitation.role:
            said = (
                f"{name} accepted the invitation: role changed from {previous_role} "
                f"to {invitation.role}"
            )
        else:
            said = (
                f"{name} accepted the invitation as {invitation.role} and stays {membership.role}"
            )
        _record(invitation, said, member=name, user=user)
    return outcome


def what_accepting_does(invitation: MemberInvitation, user: object) -> str:
    """Said beside the Accept button, before anything changes."""
    role = (
        Membership.objects.filter(study_id=invitation.study_id, user=user)
        .values_list("role", flat=True)
        .first()
    )
    if role is None:
        return f"Accepting makes you {invitation.role} in this study."
    if ROLE_RANK[role] < ROLE_RANK[invitation.role]:
        return f"You are {role} in this study now; accepting makes you {invitation.role}."
    return (
        f"You are already {role} in this study; accepting keeps your role ({role}) and "
        "closes the invitation."
    )

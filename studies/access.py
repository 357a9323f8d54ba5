"""The one door to a study's data: every view, command and API endpoint goes through here.

An outsider gets 404 (a study they may not see does not exist for them); a member without the
role an action needs gets 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import PermissionDenied
from django.http import Http404

from studies.models import Document, Membership, Study

OWNER = Membership.Role.OWNER
CODER = Membership.Role.CODER
VIEWER = Membership.Role.VIEWER
ROLE_RANK = {VIEWER: 0, CODER: 1, OWNER: 2}
ARCHIVED = "This study is archived, so it is read-only: an owner restores it to change it."


@dataclass(frozen=True)
class Access:
    """What one person may do and see in one study: every page, endpoint, export and command
    asks this object, so that a rule has one answer everywhere.

    The blind-coding rule is decided in `sees_others` and nowhere else: while the study codes
    blind, a coder sees only their own work. Other coders' codings are hidden, and so is
    everything attached to or derived from them: memos on those codings, their excerpts, their
    counts in tables, the consensus layer and the agreement figures. Owners and viewers (who code
    nothing) see everything."""

    study: Study
    user: object
    role: str | None

    @property
    def is_member(self) -> bool:
        return self.role is not None

    def at_least(self, role: str) -> bool:
        return self.role is not None and ROLE_RANK[self.role] >= ROLE_RANK[role]

    @property
    def is_owner(self) -> bool:
        return self.role == OWNER

    @property
    def can_code(self) -> bool:
        return self.at_least(CODER) and not self.study.is_archived

    def require(self, min_role: str) -> str:
        """The one check before an action: `require_role` with the study's archived state."""
        return require_role(self.role, min_role, archived=self.study.is_archived)

    @property
    def sees_others(self) -> bool:
        return self.is_member and not (self.study.blind_coding and self.role == CODER)


def role_in(study: Study | int, user: object) -> str | None:
    """The user's role in the study (an object or its id), or None. Superusers act as owners
    everywhere."""
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser:
        return Membership.Role.OWNER
    study_id = study if isinstance(study, int) else study.pk
    return (
        Membership.objects.filter(study_id=study_id, user=user)
        .values_list("role", flat=True)
        .first()
    )


def require_role(role: str | None, min_role: str, *, archived: bool = False) -> str:
    """404 for an outsider, 403 for a member below `min_role`, and 403 for any change to an
    archived study (it is read-only until an owner restores it); the role otherwise."""
    if role is None:
        raise Http404("No such study.")
    if ROLE_RANK[role] < ROLE_RANK[min_role]:
        raise PermissionDenied(f"This needs the {min_role} role.")
    if archived and min_role != VIEWER:
        raise PermissionDenied(ARCHIVED)
    return role


def get_study_for_user(
    user: object,
    slug: str,
    *,
    min_role: str = Membership.Role.VIEWER,
    archived_ok: bool = False,
) -> Study:
    """The study by its slug as `user` may use it, with `study.access` (and `user_role`) set.
    Anything above reading is refused in an archived study unless `archived_ok` (restoring or
    deleting it)."""
    study = Study.objects.filter(slug=slug).first()
    role = role_in(study, user) if study is not None else None
    archived = study is not None and study.is_archived and not archived_ok
    role = require_role(role, min_role, archived=archived)
    study.user_role = role
    study.access = Access(study, user, role)
    return study


def get_document_for_user(
    user: object, slug: str, document_id: int, *, min_role: str = Membership.Role.VIEWER
) -> Document:
    study = get_study_for_user(user, slug, min_role=min_role)
    document = (
        Document.objects.filter(study=study, pk=document_id).select_related("workshop").first()
    )
    if document is None:
        raise Http404("No such document in this study.")
    document.study = study
    return document

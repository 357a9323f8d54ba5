"""The one door to a study's data: every view, command and API endpoint goes through here.

An outsider gets 404 (a study they may not see does not exist for them); a member without the
role an action needs gets 403.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from studies.models import Document, Membership, Study

ROLE_RANK = {Membership.Role.VIEWER: 0, Membership.Role.CODER: 1, Membership.Role.OWNER: 2}


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


def require_role(role: str | None, min_role: str) -> str:
    """404 for an outsider, 403 for a member below `min_role`; the role otherwise."""
    if role is None:
        raise Http404("No such study.")
    if ROLE_RANK[role] < ROLE_RANK[min_role]:
        raise PermissionDenied(f"This needs the {min_role} role.")
    return role


def get_study_for_user(user: object, slug: str, *, min_role: str = Membership.Role.VIEWER) -> Study:
    study = Study.objects.filter(slug=slug).first()
    role = require_role(role_in(study, user) if study is not None else None, min_role)
    study.user_role = role
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

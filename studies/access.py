"""The one door to a study's data: every view, command and API endpoint goes through here.

An outsider gets 404 (a study they may not see does not exist for them); a member without the
role an action needs gets 403.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import Http404

from studies.models import Document, Membership, Study

ROLE_RANK = {Membership.Role.VIEWER: 0, Membership.Role.CODER: 1, Membership.Role.OWNER: 2}


def role_in(study: Study, user: object) -> str | None:
    """The user's role in the study, or None. Superusers act as owners everywhere."""
    if not getattr(user, "is_authenticated", False):
        return None
    if user.is_superuser:
        return Membership.Role.OWNER
    membership = Membership.objects.filter(study=study, user=user).only("role").first()
    return membership.role if membership else None


def get_study_for_user(user: object, slug: str, *, min_role: str = Membership.Role.VIEWER) -> Study:
    study = Study.objects.filter(slug=slug).first()
    role = role_in(study, user) if study is not None else None
    if role is None:
        raise Http404("No such study.")
    if ROLE_RANK[role] < ROLE_RANK[min_role]:
        raise PermissionDenied(f"This needs the {min_role} role in {study.name}.")
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

"""The audit trail through the API: the list the audit page shows, with the same filters as
query parameters, paginated like every list of the API. Owners only."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request
from rest_framework.response import Response

from exports.views_audit import audit_entries
from studies.access import OWNER, get_study_for_user
from studies.audit import AuditFilters
from studies.models import AuditEvent


class AuditEntrySerializer(serializers.Serializer):
    """One line of the trail (for the schema; entries are written by AuditEntry.as_json)."""

    time = serializers.DateTimeField()
    person = serializers.CharField(allow_null=True, help_text="null: a command run by no one")
    channel = serializers.ChoiceField(
        choices=["web", "api", "command"],
        allow_null=True,
        help_text="null for coding activity (a coding does not say how it was made)",
    )
    kind = serializers.ChoiceField(choices=AuditEvent.Action.values)
    kind_label = serializers.CharField()
    summary = serializers.CharField()
    details = serializers.DictField()


@extend_schema(
    parameters=[
        OpenApiParameter("kind", str, enum=AuditEvent.Action.values),
        OpenApiParameter("person", str, description="A username"),
        OpenApiParameter("since", str, description="First day, YYYY-MM-DD (included)"),
        OpenApiParameter("until", str, description="Last day, YYYY-MM-DD (included)"),
        OpenApiParameter("page", int),
    ],
    responses=inline_serializer(
        "AuditTrailPage",
        {
            "count": serializers.IntegerField(),
            "next": serializers.URLField(allow_null=True),
            "previous": serializers.URLField(allow_null=True),
            "results": AuditEntrySerializer(many=True),
        },
    ),
)
@api_view(["GET"])
def audit_trail(request: Request, slug: str) -> Response:
    """The study's audit trail, newest first: recorded events (imports, codebook changes,
    adjudication, exports, members and roles, withdrawals, ...) and coding activity counted
    from the codings (one entry per day, coder, document and layer). Owners only."""
    study = get_study_for_user(request.user, slug, min_role=OWNER, archived_ok=True)
    filters = AuditFilters.from_query(request.query_params)
    if filters.problems:
        errors: dict[str, list[str]] = {}
        for problem in filters.problems:
            name, _, text = problem.partition(": ")
            errors.setdefault(name, []).append(text)
        raise serializers.ValidationError(errors)
    paginator = PageNumberPagination()
    page = paginator.paginate_queryset(audit_entries(study, filters), request)
    return paginator.get_paginated_response([entry.as_json() for entry in page])

"""Export tables through the API: JSON for scripts (pandas, R), and every file format.

The query string is read as the export page reads it (`exports.views.ExportChoice`), and the
tables, their options and the formats come from the registries (`exports.tables.EXPORTERS`,
`exports.renderers.RENDERERS`). Access is checked first: an outsider gets 404 whatever else is
wrong with the request.
"""

from __future__ import annotations

import json

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import serializers
from rest_framework.decorators import api_view, parser_classes
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response

from exports.base import (
    FORMATS,
    GROUPS_HELP,
    MEASURE_NAMES,
    TABLE_NAMES,
    ExportError,
    ExportRefused,
    ExportTable,
)
from exports.jobs import start_pack
from exports.views import FIGURE_KINDS, FIGURE_SIZES, TOP_LIMIT, ExportChoice, chosen_layer
from studies.access import get_study_for_user
from studies.api_jobs import ACCEPTED, JobSerializer, job_accepted, job_json
from studies.jobs import runs_in_background
from studies.models import Job, Study
from studies.nul import JSONParser, MultiPartParser


def _choice(request: Request, slug: str, name: str) -> tuple[Study, ExportChoice]:
    """The study (404 for an outsider, before anything else is looked at) and what was asked."""
    study = get_study_for_user(request.user, slug)
    choice = ExportChoice.from_query(request.query_params, study, request.user, table=name)
    if choice.exporter is None:
        raise serializers.ValidationError({"table": choice.problems})
    return study, choice


def _table(request: Request, study: Study, choice: ExportChoice) -> ExportTable:
    try:
        return choice.build(study, request.user)
    except ExportRefused:
        raise  # 403: a table this member may not see
    except ExportError as exc:
        raise serializers.ValidationError({"detail": str(exc)}) from None


TABLE_PARAMETERS = [
    OpenApiParameter("name", str, OpenApiParameter.PATH, enum=TABLE_NAMES),
    OpenApiParameter("survey", str, description="The survey's slug, for the survey tables"),
    OpenApiParameter("by", str, description=GROUPS_HELP),
    OpenApiParameter("measure", str, enum=MEASURE_NAMES),
    OpenApiParameter("layer", str, description="consensus, all, or a username"),
    OpenApiParameter("rollup", bool),
    OpenApiParameter("top", int, description=f"Quotes per code, 1 to {TOP_LIMIT}"),
]


@extend_schema(
    parameters=TABLE_PARAMETERS,
    responses=inline_serializer(
        "ExportTable",
        {
            "table": serializers.CharField(),
            "title": serializers.CharField(),
            "meta": serializers.DictField(),
            "notes": serializers.ListField(child=serializers.CharField()),
            "columns": serializers.ListField(child=serializers.CharField()),
            "rows": serializers.ListField(child=serializers.ListField()),
        },
    ),
)
@api_view(["GET"])
def export_table(request: Request, slug: str, name: str) -> Response:
    """A table as JSON: {table, title, meta, notes, columns, rows} in tidy form."""
    from exports.renderers import render  # pandas: loaded by the first table asked for

    study, choice = _choice(request, slug, name)
    filename, _type, content = render(_table(request, study, choice), "json")
    choice.record(study, filename)
    return Response(json.loads(content))


@extend_schema(
    parameters=[
        *TABLE_PARAMETERS,
        OpenApiParameter("fmt", str, OpenApiParameter.PATH, enum=list(FORMATS)),
        OpenApiParameter("figure", str, enum=[kind for kind in FIGURE_KINDS if kind]),
        OpenApiParameter("size", str, enum=list(FIGURE_SIZES)),
        OpenApiParameter("bom", bool),
    ],
    responses={(200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The file")},
)
@api_view(["GET"])
def export_file(request: Request, slug: str, name: str, fmt: str) -> HttpResponse:
    """A table or figure as a file, e.g. /api/v1/studies/demo/exports/crosstab.xlsx?by=country."""
    study, choice = _choice(request, slug, name)
    if fmt not in FORMATS:
        raise serializers.ValidationError(
            {"format": [f"There is no format '{fmt}': use one of {', '.join(FORMATS)}."]}
        )
    table = _table(request, study, choice)
    try:
        filename, content_type, content = choice.render(table, fmt)
    except ExportError as exc:
        raise serializers.ValidationError({"detail": str(exc)}) from None
    choice.record(study, filename)
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@extend_schema(
    parameters=[
        *TABLE_PARAMETERS[:-1],
        OpenApiParameter(
            "row", str, description='A code path, "Total", or for demographics VARIABLE=VALUE'
        ),
        OpenApiParameter(
            "group",
            str,
            description='A group of the table, "Total" (frequencies: "all"), or for '
            "cooccurrence a second code path",
        ),
    ],
    responses=inline_serializer(
        "ExportCell",
        {
            "table": serializers.CharField(),
            "row": serializers.CharField(),
            "group": serializers.CharField(),
            "measure": serializers.CharField(),
            "layer": serializers.CharField(allow_null=True),
            "by": serializers.CharField(allow_null=True),
            "value": serializers.FloatField(),
            "count": serializers.IntegerField(),
            "denominator": serializers.IntegerField(allow_null=True),
            "items": serializers.ListField(child=serializers.DictField()),
        },
    ),
)
@api_view(["GET"])
def export_cell(request: Request, slug: str, name: str) -> Response:
    """The items behind one number of a table (exports.cells): `count` items, each with its
    excerpts (text, speakers, participants, workshop, country, document, position and
    `coding_url`, the coding view at that place). A missing row or group is the Total."""
    study, choice = _choice(request, slug, name)
    try:
        if choice.problems:
            raise ExportError(" ".join(choice.problems))
        from exports.cells import build_cell  # pandas, as above

        cell = build_cell(
            study,
            choice.table,
            row=request.query_params.get("row", ""),
            group=request.query_params.get("group", ""),
            by=choice.by or None,
            measure=request.query_params.get("measure") or "segments",
            layer=choice.layer or None,
            rollup=choice.rollup,
            user=request.user,
        )
    except ExportRefused:
        raise
    except ExportError as exc:
        raise serializers.ValidationError({"detail": str(exc)}) from None
    return Response(cell.as_json())


class PackSerializer(serializers.Serializer):
    layer = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="consensus, all, or a username; default: consensus where it exists, else all. "
        "While blind coding is on, a coder may ask only for their own.",
    )


@extend_schema(
    request=PackSerializer,
    responses={
        201: OpenApiResponse(
            JobSerializer,
            description="The pack was made: the job is done and `file` is the URL of the .zip "
            "(every table and figure of the study), served to you only.",
        ),
        202: ACCEPTED,
        400: OpenApiResponse(OpenApiTypes.OBJECT, description="The pack could not be made."),
    },
)
@api_view(["POST"])
@parser_classes([JSONParser, FormParser, MultiPartParser])
def export_pack(request: Request, slug: str) -> Response:
    """The paper pack (every table and figure, as on the Exports page) as a job: 201 with the
    finished job and its file's URL, or 202 when it waits for a worker (poll the Location)."""
    study = get_study_for_user(request.user, slug)
    body = PackSerializer(data=request.data)
    body.is_valid(raise_exception=True)
    asked = body.validated_data.get("layer") or request.query_params.get("layer", "")
    job = start_pack(study=study, user=request.user, layer=chosen_layer(study, request.user, asked))
    if runs_in_background():
        return job_accepted(request, job)
    if job.status == Job.Status.FAILED:
        return Response({"detail": job.error}, status=400)
    return Response(job_json(request, job), status=201)

"""Export tables through the API: JSON for scripts (pandas, R), and every file format."""

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
from rest_framework.decorators import api_view
from rest_framework.request import Request
from rest_framework.response import Response

from exports.base import (
    FIGURE_FORMATS,
    FORMATS,
    GROUPS_HELP,
    MEASURES,
    TABLES,
    ExportError,
    ExportTable,
)
from exports.figures import render_figure
from exports.renderers import render
from exports.tables import build_table
from exports.views import chosen_layer
from studies.access import get_study_for_user


def _table(request: Request, slug: str, name: str) -> ExportTable:
    study = get_study_for_user(request.user, slug)
    if name not in TABLES:
        raise serializers.ValidationError({"table": [f"Use one of {', '.join(TABLES)}."]})
    params = request.query_params
    layer = chosen_layer(study, request.user, params.get("layer", "")) or None
    try:
        return build_table(
            study,
            name,
            by=params.get("by") or None,
            measure=params.get("measure") or "segments",
            layer=layer,
            rollup=params.get("rollup") in ("1", "true", "yes"),
            user=request.user,
        )
    except ExportError as exc:
        raise serializers.ValidationError({"detail": str(exc)}) from None


TABLE_PARAMETERS = [
    OpenApiParameter("by", str, description=GROUPS_HELP),
    OpenApiParameter("measure", str, enum=[*MEASURES, "jaccard"]),
    OpenApiParameter("layer", str, description="consensus, all, or a username"),
    OpenApiParameter("rollup", bool),
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
    _filename, _type, content = render(_table(request, slug, name), "json")
    return Response(json.loads(content))


@extend_schema(
    parameters=[
        *TABLE_PARAMETERS,
        OpenApiParameter("figure", str, enum=["heatmap", "bars", "stacked"]),
        OpenApiParameter("size", str, enum=["single", "double"]),
        OpenApiParameter("bom", bool),
    ],
    responses={(200, "*/*"): OpenApiResponse(OpenApiTypes.BINARY, description="The file")},
)
@api_view(["GET"])
def export_file(request: Request, slug: str, name: str, fmt: str) -> HttpResponse:
    """A table or figure as a file, e.g. /api/v1/studies/demo/exports/crosstab.xlsx?by=country."""
    if fmt not in FORMATS:
        raise serializers.ValidationError({"format": [f"Use one of {', '.join(FORMATS)}."]})
    table = _table(request, slug, name)
    try:
        if fmt in FIGURE_FORMATS:
            content = render_figure(
                table,
                fmt,
                kind=request.query_params.get("figure") or None,
                size=request.query_params.get("size") or "single",
            )
            content_type = {"png": "image/png", "svg": "image/svg+xml", "pdf": "application/pdf"}[
                fmt
            ]
            filename = table.filename(fmt)
        else:
            extra = {"bom": True} if fmt == "csv" and request.query_params.get("bom") else {}
            filename, content_type, content = render(table, fmt, **extra)
    except ExportError as exc:
        raise serializers.ValidationError({"detail": str(exc)}) from None
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response

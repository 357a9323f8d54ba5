"""REFI-QDA through the API: the study as a .qdpx project and its codebook as a .qdc, and a
project or codebook from NVivo, ATLAS.ti, MAXQDA, QualCoder or Colloquy imported (or, with
`dry_run`, only planned) through the same `exports.qdpx` functions as the pages and commands.
The import and the project download run as jobs (`exports.jobs`), as on the pages: when a
worker runs them, the answer is 202 with the job and a Location to poll.

Owners only, as on the pages: the project holds every coder's codings and each participant's
survey answers. Access is checked first: an outsider gets 404 whatever else is wrong.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from exports.jobs import start_qdpx_export, start_qdpx_import
from exports.qdpx import plan_qdpx, write_qdc
from exports.views import attachment
from studies.access import OWNER, get_study_for_user
from studies.api import rejected, truthy, uploaded
from studies.api_jobs import ACCEPTED, job_accepted
from studies.audit import record_export
from studies.importers import FileRejected
from studies.jobs import runs_in_background
from studies.models import Job, PendingImport, Study, Workshop
from studies.nul import MultiPartParser


class QdpxUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="A REFI-QDA project (.qdpx, or its .qde alone) or codebook (.qdc)."
    )
    workshop = serializers.CharField(
        required=False,
        help_text="A workshop's code: where the cases (participants) and sources the file does "
        "not place in a workshop go.",
    )
    dry_run = serializers.BooleanField(
        required=False, help_text="true: read, check and report what would come in; write nothing."
    )
    pseudonymise = serializers.BooleanField(
        required=False,
        help_text="true: replace personal data in new sources' text (participant names by "
        "their codes, the study's private list, e-mail, phone and web addresses) before it is "
        "stored; the codings move with the text.",
    )


QdpxReportSerializer = inline_serializer(
    "QdpxImportReport",
    {
        "applied": serializers.BooleanField(help_text="Whether anything was written."),
        "dry_run": serializers.BooleanField(),
        "file": serializers.CharField(),
        "origin": serializers.CharField(help_text="The tool that wrote the file, as it says."),
        "project": serializers.CharField(help_text="The project's name; empty for a codebook."),
        "in_file": serializers.DictField(
            child=serializers.IntegerField(),
            help_text="What the file holds: users, codes, variables, cases, sources, "
            "selections, codings, notes, sets.",
        ),
        "new": serializers.DictField(
            child=serializers.IntegerField(),
            help_text="What is (or would be) added: codes, coders, participants, workshops, "
            "variables, documents, codings, memos.",
        ),
        "unchanged": serializers.DictField(
            child=serializers.IntegerField(), help_text="What the study already has."
        ),
        "codes_updated": serializers.IntegerField(),
        "participants_updated": serializers.IntegerField(),
        "skipped": inline_serializer(
            "QdpxSkipped",
            {
                "what": serializers.CharField(help_text="The reason, worded for several."),
                "count": serializers.IntegerField(),
                "text": serializers.CharField(help_text="The count and reason as a sentence."),
            },
            many=True,
            help_text="What cannot come in, and why.",
        ),
        "notes": serializers.ListField(
            child=serializers.CharField(),
            help_text="Remarks worth reading (accounts renamed, ...).",
        ),
        "pseudonymised": inline_serializer(
            "QdpxPseudonymised",
            {
                "kind": serializers.CharField(),
                "what": serializers.CharField(),
                "count": serializers.IntegerField(),
                "examples": serializers.ListField(
                    child=serializers.ListField(child=serializers.CharField()),
                    help_text="Up to three [original, replacement] pairs.",
                ),
            },
            many=True,
            help_text="Personal data replaced in the sources' text, by kind (with pseudonymise).",
        ),
        "summary": serializers.CharField(),
    },
)

FileErrorSerializer = inline_serializer(
    "QdpxFileError",
    {
        "file": serializers.ListField(child=serializers.CharField(), required=False),
        "workshop": serializers.ListField(child=serializers.CharField(), required=False),
    },
)


class _FileView(APIView):
    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # The download answers with its file whatever the Accept header; errors stay JSON.
        return super().perform_content_negotiation(request, force=True)


class QdpxView(_FileView):
    """GET: the study as a REFI-QDA project (.qdpx) for NVivo, ATLAS.ti, MAXQDA or QualCoder.
    POST: import a REFI-QDA project or codebook, all of it or nothing. Owners only."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        responses={
            (200, "application/zip"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="The project: project.qde and sources/*.txt. It holds every "
                "coder's codings, the consensus layer, memos, participants with their variables "
                "and survey answers.",
            ),
            202: ACCEPTED,
        },
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        """The study as a REFI-QDA project (.qdpx) that NVivo, ATLAS.ti, MAXQDA and QualCoder
        open; GUIDs are the same in every export, so a project goes out and comes back without
        doubling anything. Owners only; an archived study can still be exported."""
        study = get_study_for_user(request.user, slug, min_role=OWNER, archived_ok=True)
        job = start_qdpx_export(study=study, user=request.user)
        if runs_in_background():
            return job_accepted(request, job)
        if job.status == Job.Status.FAILED:
            return Response({"detail": job.error}, status=status.HTTP_400_BAD_REQUEST)
        with job.result.open("rb") as handle:
            return attachment(handle.read(), job.result_type, job.result_name)

    @extend_schema(
        request={"multipart/form-data": QdpxUploadSerializer},
        responses={
            200: OpenApiResponse(
                QdpxReportSerializer,
                description="Nothing was written: a dry run, or everything in the file is "
                "already in the study (the summary starts with “No changes”).",
            ),
            201: OpenApiResponse(QdpxReportSerializer, description="The file was imported."),
            202: ACCEPTED,
            400: OpenApiResponse(
                FileErrorSerializer,
                description="The file was refused (a one-line reason naming the file and the "
                "element), or the workshop is unknown; nothing was written.",
            ),
        },
    )
    def post(self, request: Request, slug: str) -> Response:
        """Import a REFI-QDA project or codebook, all of it or nothing: 201 with the report
        when something was written, 200 when nothing was (`dry_run=true`, or everything in the
        file is already in the study), 400 with `{"file": [reason]}` for a file that cannot
        come in. The report says what the file holds, what is new, what the study already
        has, what is skipped and why. Owners only."""
        study = get_study_for_user(request.user, slug, min_role=OWNER)
        files = uploaded(request, "file")
        if len(files) != 1:
            return Response(
                {"file": ["Upload one .qdpx, .qde or .qdc file as 'file'."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        [(filename, data)] = files
        workshop, problem = _workshop(study, str(request.data.get("workshop", "")).strip())
        if problem:
            return Response({"workshop": [problem]}, status=status.HTTP_400_BAD_REQUEST)
        dry_run = truthy(request.data.get("dry_run")) or truthy(request.query_params.get("dry_run"))
        pseudonymise = truthy(request.data.get("pseudonymise"))
        if not dry_run:
            return self.apply(request, study, filename, data, workshop, pseudonymise)
        try:
            plan = plan_qdpx(
                study=study,
                filename=filename,
                data=data,
                user=request.user,
                workshop=workshop,
                pseudonymise=pseudonymise,
            )
        except FileRejected as exc:
            return rejected(exc)
        return Response({"applied": False, "dry_run": True, **plan.report()})

    def apply(
        self,
        request: Request,
        study: Study,
        filename: str,
        data: bytes,
        workshop: Workshop | None,
        pseudonymise: bool,
    ) -> Response:
        """Import through the same job as the page: the file waits as a PendingImport row
        (any worker reads the same bytes), then the job plans and applies it."""
        pending = PendingImport.objects.create(
            study=study,
            user=request.user,
            kind=PendingImport.Kind.PROJECT,
            workshop=workshop,
            filename=filename,
            data=data,
        )
        job = start_qdpx_import(
            study=study, user=request.user, pending=pending, pseudonymise=pseudonymise
        )
        if runs_in_background():
            return job_accepted(request, job)
        if job.status == Job.Status.FAILED:
            pending.delete()
            return Response(job.data or {"detail": job.error}, status=status.HTTP_400_BAD_REQUEST)
        applied = job.data.get("applied", False)
        return Response(job.data, status=status.HTTP_201_CREATED if applied else status.HTTP_200_OK)


def _workshop(study: Study, code: str) -> tuple[Workshop | None, str]:
    if not code:
        return None, ""
    workshop = study.workshops.filter(code__iexact=code).first()
    if workshop is None:
        codes = ", ".join(study.workshops.order_by("code").values_list("code", flat=True))
        return None, f"No workshop {code!r} in this study (it has {codes or 'none yet'})."
    return workshop, ""


class QdcView(_FileView):
    """GET: the study's codebook as a REFI-QDA codebook (.qdc). Owners only."""

    @extend_schema(
        responses={
            (200, "application/xml"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="The codebook: codes with their hierarchy, colours and descriptions.",
            )
        },
    )
    def get(self, request: Request, slug: str) -> HttpResponse:
        """The study's codebook as a REFI-QDA codebook (.qdc). Owners only."""
        study = get_study_for_user(request.user, slug, min_role=OWNER, archived_ok=True)
        data = write_qdc(study)
        record_export(study, "the codebook", f"{study.slug}.qdc")
        return attachment(data, "application/xml", f"{study.slug}.qdc")

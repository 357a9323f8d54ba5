"""A person's jobs through the API, under /api/v1/studies/{slug}/jobs/: the list, one job's
progress and outcome, and its file. The same rule as the pages (`studies.views_jobs.job_for`):
a member sees only the jobs they started, anyone else's is not found (404), and an outsider
finds none. Endpoints that start a job answer with `job_accepted` (202, the job's JSON and a
Location header to poll) when the job waits for a worker.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from studies.access import get_study_for_user
from studies.jobs import is_stalled, jobs_for
from studies.models import Job
from studies.views_jobs import job_for, result_file

# How many of a person's jobs the list answers with, newest first (as the Jobs page).
LIST_LIMIT = 100


class JobSerializer(serializers.Serializer):
    """A job as the API shows it (the schema of `job_json`)."""

    id = serializers.IntegerField()
    url = serializers.CharField(help_text="This job in the API: poll it until it finishes.")
    page = serializers.CharField(help_text="This job's page in the web UI.")
    kind = serializers.CharField(help_text="import, pack, qdpx-import, train, ...")
    title = serializers.CharField()
    status = serializers.ChoiceField(choices=Job.Status.choices)
    stalled = serializers.BooleanField(
        help_text="Running, but its worker has not been heard from for a while: it stopped."
    )
    done = serializers.IntegerField()
    total = serializers.IntegerField(help_text="0 while the amount of work is unknown.")
    stage = serializers.CharField(help_text="What it is doing now.")
    message = serializers.CharField(help_text="The outcome, once done.")
    error = serializers.CharField(help_text="Why it failed.")
    next_url = serializers.CharField(help_text="The web page the outcome leads to.")
    data = serializers.DictField(
        help_text="The outcome as the endpoint that started it answers it (e.g. an "
        "import's documents), or a failure's details (e.g. {\"file\": [reason]})."
    )
    file = serializers.CharField(
        allow_null=True, help_text="The URL of the file it made; null when there is none."
    )
    file_name = serializers.CharField()
    file_type = serializers.CharField()
    file_size = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)


def job_url(job: Job) -> str:
    return reverse("study-job", kwargs={"slug": job.study.slug, "job_id": job.pk})


def job_json(request: Request, job: Job) -> dict[str, Any]:
    """A job as the API shows it to the person who started it."""
    slug = job.study.slug
    file_url = None
    if job.has_file:
        file_url = request.build_absolute_uri(
            reverse("study-job-file", kwargs={"slug": slug, "job_id": job.pk})
        )
    return {
        "id": job.pk,
        "url": request.build_absolute_uri(job_url(job)),
        "page": request.build_absolute_uri(job.get_absolute_url()),
        "kind": job.kind,
        "title": job.title,
        "status": job.status,
        "stalled": is_stalled(job),
        "done": job.done,
        "total": job.total,
        "stage": job.stage,
        "message": job.message,
        "error": job.error,
        "next_url": request.build_absolute_uri(job.next_url) if job.next_url else "",
        "data": job.data,
        "file": file_url,
        "file_name": job.result_name if file_url else "",
        "file_type": job.result_type if file_url else "",
        "file_size": job.result_size if file_url else 0,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }


def job_accepted(request: Request, job: Job) -> Response:
    """What an endpoint answers about a job that waits for a worker: 202, the job, and where
    to poll it."""
    return Response(
        job_json(request, job),
        status=status.HTTP_202_ACCEPTED,
        headers={"Location": request.build_absolute_uri(job_url(job))},
    )


ACCEPTED = OpenApiResponse(
    JobSerializer,
    description="The job waits for a worker (the server runs jobs in the background): poll "
    "the Location header's URL (the job) until its status is done or failed.",
)


class JobListView(APIView):
    """GET: the jobs you started in this study, newest first (at most 100)."""

    @extend_schema(responses={200: JobSerializer(many=True)})
    def get(self, request: Request, slug: str) -> Response:
        study = get_study_for_user(request.user, slug, archived_ok=True)
        jobs = list(jobs_for(request.user, study)[:LIST_LIMIT])
        for job in jobs:
            job.study = study
        return Response([job_json(request, job) for job in jobs])


class JobDetailView(APIView):
    """GET: one of your jobs: its status and progress, then its outcome or why it failed."""

    @extend_schema(responses={200: JobSerializer})
    def get(self, request: Request, slug: str, job_id: int) -> Response:
        _study, job = job_for(request, slug, job_id)
        return Response(job_json(request, job))


class JobFileView(APIView):
    """GET: the file one of your jobs made (a paper pack, a REFI-QDA project, ...)."""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # The download answers with its file whatever the Accept header; errors stay JSON.
        return super().perform_content_negotiation(request, force=True)

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiResponse(
                OpenApiTypes.BINARY,
                description="The file, with its name in Content-Disposition and its own "
                "content type. 404 for anyone but the member who started the job, and once the "
                "file's time is up.",
            )
        }
    )
    def get(self, request: Request, slug: str, job_id: int) -> HttpResponse:
        _study, job = job_for(request, slug, job_id)
        return result_file(job)

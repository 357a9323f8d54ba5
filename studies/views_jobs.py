"""A person's jobs in a study: the list, one job's progress (polled by htmx while it runs), its
file, and what a page that started a job answers (`job_response`)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import content_disposition_header

from studies.access import get_study_for_user
from studies.jobs import is_stalled, jobs_for, runs_in_background
from studies.models import Job, Study


def job_for(request: HttpRequest, slug: str, job_id: int) -> tuple[Study, Job]:
    """A job of the study that the requesting member started; anyone else's is not found."""
    study = get_study_for_user(request.user, slug, archived_ok=True)
    job = jobs_for(request.user, study).filter(pk=job_id).first()
    if job is None:
        raise Http404("No such job.")
    job.study = study
    return study, job


def result_file(job: Job) -> FileResponse:
    """The job's file as a download. Only the views and the API call this, after `job_for`."""
    if not job.has_file:
        raise Http404("This job's file was deleted after its time was up; run it again.")
    try:
        handle = job.result.open("rb")
    except FileNotFoundError:
        # A worker whose media storage is not the web server's (a setup error), or a file
        # removed by hand: say what is wrong rather than fail.
        raise Http404(
            "This job's file is not in the server's storage; run the job again. If this keeps "
            "happening, the workers and the web server do not share their media storage."
        ) from None
    response = FileResponse(handle, content_type=job.result_type)
    response["Content-Disposition"] = content_disposition_header(True, job.result_name)
    return response


def job_response(request: HttpRequest, job: Job) -> HttpResponse:
    """What a page answers once it has started a job. A job that already ran in this request
    (the immediate backend) answers as the page did before jobs: its file, or its message and
    the page it leads to. One that waits for a worker opens its progress page."""
    if job.status == Job.Status.DONE and not runs_in_background():
        if job.has_file:
            # Made in this request: answer with its bytes, as the download did before jobs.
            with job.result.open("rb") as handle:
                response = HttpResponse(handle.read(), content_type=job.result_type)
            response["Content-Disposition"] = content_disposition_header(True, job.result_name)
            return response
        if job.message:
            messages.success(request, job.message)
        return redirect(job.next_url or job.get_absolute_url())
    return redirect(job.get_absolute_url())


@login_required
def job_list(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, archived_ok=True)
    jobs = list(jobs_for(request.user, study)[:100])
    for job in jobs:
        job.stalled = is_stalled(job)
    return render(
        request,
        "studies/job_list.html",
        {"study": study, "jobs": jobs, "background": runs_in_background()},
    )


@login_required
def job_detail(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    study, job = job_for(request, slug, job_id)
    stalled = is_stalled(job)
    state = "stopped" if stalled else job.status
    context = {
        "study": study,
        "job": job,
        "stalled": stalled,
        "state": state,
        "state_label": "Stopped" if stalled else job.get_status_display(),
        "background": runs_in_background(),
    }
    if request.htmx:
        # The progress panel alone: htmx swaps it in every second until the job finishes. The
        # page's status line is told when the state differs from the one the page showed.
        context["announce"] = request.GET.get("seen", state) != state
        return render(request, "studies/_job_status.html", context)
    return render(request, "studies/job_detail.html", context)


@login_required
def job_file(request: HttpRequest, slug: str, job_id: int) -> HttpResponse:
    _study, job = job_for(request, slug, job_id)
    return result_file(job)

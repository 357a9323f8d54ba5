"""The study's Surveys section: the list of surveys, a survey's overview with its progress, its
settings, its deletion, and its links (owners only).

Who sees what: every member sees the surveys and their progress numbers; only owners see the
links (the tokens are the respondents' credentials), change settings, send e-mails and delete.
An archived study is read-only: its owners still see the links and download them.
Everything about links goes through `surveys.distribution`.
"""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from studies.access import OWNER, get_study_for_user
from studies.audit import record_export
from studies.models import Study
from studies.wording import plural
from surveys import distribution
from surveys.forms_owner import CreateLinksForm, SurveyForm
from surveys.models import Survey


def get_survey(study: Study, survey_slug: str) -> Survey:
    return get_object_or_404(
        Survey.objects.select_related("wave_of"), study=study, slug=survey_slug
    )


def base_url(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def owner_may_see_links(study: Study) -> None:
    """Links are for owners only; an archived study's owners may still read them."""
    if not study.access.is_owner:
        raise PermissionDenied("Only the study's owners see the survey's links.")


def save_form(form: SurveyForm, study: Study) -> Survey | None:
    """The survey saved from a valid form (the anonymous link made when it is turned on), or
    None with the problems on the form."""
    if not form.is_valid():
        return None
    with transaction.atomic():
        survey = form.save(commit=False)
        survey.study = study
        survey.save()
        distribution.set_anonymous(survey, survey.allows_anonymous)
    return survey


# --- The list and a survey's overview -----------------------------------------------------------


@login_required
def survey_list(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    surveys = list(study.surveys.select_related("wave_of").annotate(n_questions=Count("questions")))
    counts = distribution.totals(surveys)
    rows = [(s, distribution.state(s), counts[s.pk]) for s in surveys]
    return render(request, "surveys/owner/list.html", {"study": study, "rows": rows})


@login_required
def survey_detail(request: HttpRequest, slug: str, survey: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    found = get_survey(study, survey)
    context = {
        "study": study,
        "survey": found,
        "state": distribution.state(found),
        "progress": distribution.progress(found),
        "n_questions": found.questions.count(),
        "n_pages": found.pages.count(),
        "waves": found.waves.all(),
    }
    return render(request, "surveys/owner/detail.html", context)


# --- New, settings, delete ----------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def survey_new(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    form = SurveyForm(request.POST or None, study=study)
    if request.method == "POST":
        created = save_form(form, study)
        if created is not None:
            messages.success(request, f"Created the survey {created.title}: now add its questions.")
            return redirect("surveys:detail", study.slug, created.slug)
    return render(
        request,
        "surveys/owner/form.html",
        {"study": study, "form": form, "survey": None},
        status=400 if form.errors else 200,
    )


@login_required
@require_http_methods(["GET", "POST"])
def survey_settings(request: HttpRequest, slug: str, survey: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    found = get_survey(study, survey)
    form = SurveyForm(request.POST or None, instance=found, study=study)
    if request.method == "POST":
        saved = save_form(form, study)
        if saved is not None:
            messages.success(request, f"Saved the settings of {saved.title}.")
            return redirect("surveys:detail", study.slug, saved.slug)
        found.refresh_from_db()  # the page's title and links keep the saved slug
    return render(
        request,
        "surveys/owner/form.html",
        {"study": study, "form": form, "survey": found},
        status=400 if form.errors else 200,
    )


def losses(survey: Survey) -> list[str]:
    """What deleting the survey deletes, for the confirmation: "12 submitted responses"."""
    responses = survey.responses.all()
    counted = [
        (responses.filter(submitted_at__isnull=False).count(), "submitted response", None),
        (responses.filter(submitted_at__isnull=True).count(), "unfinished response", None),
        (survey.questions.count(), "question", None),
        (survey.pages.count(), "page", None),
        (survey.invitations.count(), "participant's link", "participants' links"),
    ]
    return [plural(n, one, many) for n, one, many in counted if n]


@login_required
@require_http_methods(["GET", "POST"])
def survey_delete(request: HttpRequest, slug: str, survey: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    found = get_survey(study, survey)
    if request.method == "POST":
        title = found.title
        found.delete()
        messages.success(request, f"Deleted the survey {title}.")
        return redirect("surveys:list", study.slug)
    return render(
        request,
        "surveys/owner/delete.html",
        {
            "study": study,
            "survey": found,
            "losses": losses(found),
            "n_responses": found.responses.count(),
            # Long-text answers made into documents stay: codings may point into them.
            "n_documents": found.responses.filter(document__isnull=False).count(),
        },
    )


# --- Links ------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def survey_links(request: HttpRequest, slug: str, survey: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    owner_may_see_links(study)
    found = get_survey(study, survey)
    if request.method == "POST":
        study.access.require(OWNER)  # archived: read-only
        links_action(request, study, found)
        return redirect("surveys:links", study.slug, found.slug)
    rows = distribution.links(found)
    context = {
        "study": study,
        "survey": found,
        "rows": [(i, status, distribution.link_url(request, i)) for i, status in rows],
        "create_form": CreateLinksForm(study=study),
        "anonymous_url": distribution.anonymous_url(request, found),
        "n_participants": study.participants.count(),
        "n_unsent": distribution.unsent(found).count(),
        "n_without_address": sum(1 for i, _status in rows if not i.email),
        "editable": not study.is_archived,
    }
    return render(request, "surveys/owner/links.html", context)


def links_action(request: HttpRequest, study: Study, survey: Survey) -> None:
    """One of the links page's buttons, its result as a message."""
    action = request.POST.get("action", "")
    if action == "create":
        form = CreateLinksForm(request.POST, study=study)
        if not form.is_valid():
            messages.error(request, "Choose everyone on the roster or one of its workshops.")
            return
        workshop = form.cleaned_data["workshop"]
        participants = study.participants.all()
        if workshop is not None:
            participants = participants.filter(workshop=workshop)
        made = distribution.create_links(survey, participants)
        where = f" in workshop {workshop.code}" if workshop else ""
        if made:
            messages.success(request, f"Created {plural(made, 'link')}{where}.")
        elif not participants.exists():
            messages.info(request, f"Nobody is on the roster{where}: import a roster first.")
        else:
            messages.info(request, f"Everyone{where} has a link already: none created.")
        return
    if action == "anonymous_on":
        distribution.set_anonymous(survey, True)
        messages.success(request, "The anonymous link is on: anyone who has it can answer.")
        return
    if action == "anonymous_off":
        distribution.set_anonymous(survey, False)
        messages.success(request, "The anonymous link is off: it no longer opens the survey.")
        return
    if action == "anonymous_renew":
        distribution.renew_anonymous_link(survey)
        messages.success(request, "The anonymous link is new: the old one no longer works.")
        return
    if action in ("save", "send_selected", "send_unsent"):
        if not save_addresses(request, survey):
            return
        if action == "send_selected":
            chosen = survey.invitations.filter(pk__in=request.POST.getlist("selected"))
            if not chosen.exists():
                messages.error(request, "Select the links to send first (the boxes on the left).")
                return
            messages.success(
                request,
                distribution.send_links(survey, chosen, base_url=base_url(request)).summary(),
            )
        elif action == "send_unsent":
            sent = distribution.send_links(
                survey, distribution.unsent(survey), base_url=base_url(request)
            )
            without = survey.invitations.filter(email="").count()
            if sent.sent == 0 and not without:
                messages.info(request, "Every link with an address has been sent already.")
            else:
                summary = f"Sent {plural(sent.sent, 'e-mail')}"
                if without:
                    have = "has" if without == 1 else "have"
                    summary += f"; {plural(without, 'link')} {have} no address"
                messages.success(request, summary + ".")
        return
    messages.error(request, "That button does nothing here.")


def save_addresses(request: HttpRequest, survey: Survey) -> bool:
    """The e-mail addresses typed in the table (fields email-<link id>), all or none: False,
    with a message naming each bad one, when any is wrong."""
    wanted = {}
    for name, value in request.POST.items():
        if name.startswith("email-") and name[6:].isdigit():
            wanted[int(name[6:])] = value
    if not wanted:
        return True
    links = list(survey.invitations.filter(pk__in=wanted).select_related("participant"))
    problems, changed = [], 0
    with transaction.atomic():
        for invitation in links:
            try:
                changed += distribution.set_email(invitation, wanted[invitation.pk])
            except ValidationError as error:
                problems.extend(error.messages)
        if problems:
            transaction.set_rollback(True)
    if problems:
        messages.error(request, "Nothing saved or sent: " + " ".join(problems))
        return False
    if changed:
        messages.success(request, f"Saved {plural(changed, 'e-mail address', 'e-mail addresses')}.")
    return True


@login_required
def survey_links_csv(request: HttpRequest, slug: str, survey: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    owner_may_see_links(study)
    found = get_survey(study, survey)
    response = HttpResponse(
        distribution.links_csv(found, base_url(request)), content_type="text/csv; charset=utf-8"
    )
    filename = f"{study.slug}-{found.slug}-links.csv"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    record_export(study, f"the personal links of the survey {found.slug}", filename)
    return response

"""What the surveys app adds to the study's foundation pages (registered in SurveysConfig.ready):
the study's survey counts in the API (studies.api.STUDY_COUNTERS) and a panel on a participant's
page (studies.views.PARTICIPANT_PANELS) with each survey's state for them. The panel is the
owners': individual answers and links are theirs only, as everywhere in the surveys app."""

from __future__ import annotations

from studies.access import Access
from studies.models import Participant
from studies.views import ParticipantPanel
from surveys.distribution import COMPLETED, INVITED, STARTED
from surveys.models import Response, Survey


def study_counts(access: Access) -> dict[str, int]:
    """The study's surveys and their submitted responses, for the study's `counts`."""
    return {
        "surveys": Survey.objects.filter(study=access.study).count(),
        "survey_responses": Response.objects.filter(
            survey__study=access.study, submitted_at__isnull=False
        ).count(),
    }


def surveys_panel(access: Access, participant: Participant) -> ParticipantPanel | None:
    """Each survey of the study with the participant's state (not invited, invited, started,
    completed) and, where they answered, a link to their response: owners only."""
    if not access.is_owner:
        return None
    surveys = list(Survey.objects.filter(study=access.study).order_by("created_at", "slug"))
    if not surveys:
        return None
    invited = set(participant.survey_invitations.values_list("survey_id", flat=True))
    responses = {r.survey_id: r for r in participant.survey_responses.all()}
    rows = []
    for survey in surveys:
        response = responses.get(survey.pk)
        if response is not None:
            status = COMPLETED if response.is_submitted else STARTED
        else:
            status = INVITED if survey.pk in invited else "not invited"
        rows.append({"survey": survey, "status": status, "response": response})
    return ParticipantPanel(
        title=f"{participant.code}'s surveys",
        template="surveys/participant_surveys.html",
        data={"rows": rows},
    )

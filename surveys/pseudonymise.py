"""Open survey answers are pseudonymised before they are stored, like transcripts at import.

An answer that holds the respondent's own words (a short or long text, or the text of "other,
please specify") goes through `studies.pseudonymise` with the respondent's workshop and the
language they answered in: a participant's name in any inflected form becomes their code (the
respondent's own name too), a name on the study's private list its kind, and e-mail
addresses, phone numbers and web addresses [EMAIL], [PHONE] and [URL]. Closed answers (option
codes), numbers and dates are stored as they are.

`clean_answers` is the one place this happens, called by every path that writes answers: the
respondent's pages (`surveys.views.save`) and the response import (`plan_responses`, so the
preview already counts what will be replaced). It pseudonymises a response's free texts
together, in one pass of the engine, so the roster and the private list are read once per
response, not once per answer.

What each pseudonym replaced is kept only while the study keeps its mapping
(`Study.keep_pseudonyms`): one row per replacement, saying where (`survey pre, P07, question
story`); once a response's long texts become its survey text document, the rows of those answers
point at the document (`attach_mapping`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace

from studies.importers import ParsedTranscript
from studies.models import Participant, Pseudonym, Study
from studies.pseudonymise import Finding, Pseudonymised, keep_mapping, pseudonymise_text
from studies.wording import plural
from surveys.models import OTHER, Answer, Question, Response, Survey
from surveys.services import _language_of

FREE_TEXT = frozenset({Question.Kind.TEXT, Question.Kind.LONG_TEXT})
# Between a response's answers in the one text the engine reads: two line breaks, which no
# pattern or name crosses (a finding that would is caught below, and the answers then go one by
# one).
SEPARATOR = "\n\n"


def is_free_text(question: Question, item: str = "") -> bool:
    """Whether an answer holds the respondent's own words: a text question's, or the text of
    "other, please specify"."""
    return item == OTHER or question.kind in FREE_TEXT


def where(survey: Survey, who: str, question: Question, item: str = "") -> str:
    """How a kept mapping row names the answer it came from."""
    return f"survey {survey.slug}, {who}, question {question.code}" + (f" ({item})" if item else "")


def respondent(response: Response | None, participant: Participant | None) -> str:
    if participant is not None:
        return participant.code
    return f"anonymous response {response.pk}" if response is not None else "anonymous"


@dataclass
class CleanedAnswer:
    question: Question
    item: str
    result: Pseudonymised


@dataclass
class CleanedAnswers:
    """A response's answers after pseudonymisation: `values` in the order given, and the free
    texts in which something was replaced."""

    survey: Survey
    who: str
    values: list[str]
    changed: list[CleanedAnswer] = field(default_factory=list)

    @property
    def applied(self) -> list[Finding]:
        return [f for answer in self.changed for f in answer.result.applied]

    def keep(self, *, user: object = None) -> int:
        """Keep the mapping of each changed answer (only while the study keeps it)."""
        return sum(
            keep_mapping(
                self.survey.study,
                answer.result,
                where=where(self.survey, self.who, answer.question, answer.item),
                user=user,
            )
            for answer in self.changed
        )


def clean_answers(
    response: Response,
    answers: Sequence[tuple[Question, str, str]],
    *,
    stored: Iterable[Answer] = (),
) -> CleanedAnswers:
    """The values of a response's `answers` ((question, item, value)) to store: the free texts
    pseudonymised, everything else as given. `response` may be not yet saved (an import's
    plan); its survey, participant (and their workshop) and language say whose words these are
    and how they are inflected. An answer whose value is as `stored` (the response's answers
    now) was cleaned when it was stored and stays as it is."""
    survey, participant = response.survey, response.participant
    language = _language_of(response)
    kept = {(a.question_id, a.item): a.value for a in stored}
    who = respondent(response, participant)
    values = [value for _q, _i, value in answers]
    todo = [
        n
        for n, (question, item, value) in enumerate(answers)
        if value.strip() and is_free_text(question, item) and kept.get((question.pk, item)) != value
    ]
    cleaned = CleanedAnswers(survey, who, values)
    if not todo:
        return cleaned
    study = survey.study
    workshop = participant.workshop if participant is not None else None
    texts = [answers[n][2] for n in todo]
    results = _together(study, texts, language=language, workshop=workshop)
    if results is None:  # something found crossed from one answer into the next
        results = [
            pseudonymise_text(study, text, language=language, workshop=workshop) for text in texts
        ]
    for n, result in zip(todo, results, strict=True):
        if result.applied:
            question, item, _value = answers[n]
            values[n] = result.parsed.text
            cleaned.changed.append(CleanedAnswer(question, item, result))
    return cleaned


def _together(
    study: Study, texts: list[str], *, language: str, workshop: object
) -> list[Pseudonymised] | None:
    """Each text pseudonymised, from one pass over them all; None when a finding spans two."""
    starts, at = [], 0
    for text in texts:
        starts.append(at)
        at += len(text) + len(SEPARATOR)
    whole = pseudonymise_text(study, SEPARATOR.join(texts), language=language, workshop=workshop)
    results = []
    for text, start in zip(texts, starts, strict=True):
        end = start + len(text)
        if any(f.start < end and f.end > end for f in whole.findings):
            return None
        mine = [_shifted(f, start) for f in whole.findings if start <= f.start < end]
        applied = [_shifted(f, start) for f in whole.applied if start <= f.start < end]
        parsed = ParsedTranscript(_replaced(text, applied), [], "text", "utf-8")
        results.append(Pseudonymised(parsed, mine, applied, text))
    return results


def _shifted(finding: Finding, by: int) -> Finding:
    return replace(finding, start=finding.start - by, end=finding.end - by)


def _replaced(text: str, applied: Sequence[Finding]) -> str:
    pieces, at = [], 0
    for finding in applied:
        pieces += [text[at : finding.start], finding.replacement]
        at = finding.end
    return "".join([*pieces, text[at:]])


def attach_mapping(survey: Survey, responses: Iterable[Response]) -> int:
    """Point the kept mapping rows of the responses' long-text answers at the survey text
    document those answers became; returns how many rows moved."""
    if not survey.study.keep_pseudonyms:
        return 0
    responses = [r for r in responses if r.pk is not None]
    documents = dict(
        Response.objects.filter(
            pk__in=[r.pk for r in responses], document__isnull=False
        ).values_list("pk", "document_id")
    )
    long_texts = list(survey.questions.filter(kind=Question.Kind.LONG_TEXT))
    moved = 0
    for response in responses:
        if response.pk not in documents:
            continue
        who = respondent(response, response.participant)
        moved += Pseudonym.objects.filter(
            study_id=survey.study_id,
            document__isnull=True,
            where__in=[where(survey, who, q) for q in long_texts],
        ).update(document_id=documents[response.pk])
    return moved


def summary(cleaned: Iterable[CleanedAnswers]) -> str:
    """'pseudonymised 3 answers (replaced 2 participant names, 1 e-mail address)', or ''."""
    cleaned = list(cleaned)
    changed = sum(len(c.changed) for c in cleaned)
    if not changed:
        return ""
    applied = [f for c in cleaned for f in c.applied]
    report = Pseudonymised(ParsedTranscript("", [], "text", "utf-8"), applied, applied).report()
    return f"pseudonymised {plural(changed, 'answer')} ({report})"

"""Workflows that join surveys to the rest of the study.

A submitted response's long-text answers become one Document of kind survey text, attributed to
the participant and their workshop, so that the coding view, search, the exports and the
agreement figures treat them like what participants say in a workshop. The document reads like a
short transcript: before each answer a turn of the speaker "Question" (no participant, like a
facilitator) holds the question as the respondent read it, then a turn of the participant holds
the answer. Turns and sentences are stored the way the transcript import stores them, with the
same sentence splitter, so units and offsets follow the same rules.

The response keeps its document (`Response.document`): publishing again changes nothing, and a
document that something refers to (a coding) is never rewritten.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from django.db import transaction

from studies.importers import FileRejected, ParsedTurn
from studies.importers.encoding import normalise
from studies.models import BCP47_RE, Document, Participant, Sentence, Turn
from studies.nlp import base_language, count_words, sentence_spans
from surveys.models import Answer, Question, Response, Survey

QUESTION_SPEAKER = "Question"
ANONYMOUS_SPEAKER = "Respondent"
SOURCE_FORMAT = "survey"


class TextAnswersFrozen(ValueError):
    """The long-text answers changed, but codings (or anything else) point into the document
    they became, whose text therefore cannot change."""


def _one_line(text: str) -> str:
    return " ".join(text.split())


def compose_text(pairs: Sequence[tuple[str, str]], speaker: str) -> tuple[str, list[ParsedTurn]]:
    """The document text and its turns for (question as read, answer) pairs: paragraphs
    "Question: ..." and "P07: ...", each turn pointing at the words after its label."""
    paragraphs: list[str] = []
    turns: list[ParsedTurn] = []
    offset = 0
    for question, answer in pairs:
        for label, words in ((QUESTION_SPEAKER, _one_line(question)), (speaker, answer)):
            start = offset + len(label) + 2
            turns.append(ParsedTurn(label, start, start + len(words)))
            paragraph = f"{label}: {words}"
            paragraphs.append(paragraph)
            offset += len(paragraph) + 2
    return "\n\n".join(paragraphs), turns


class _Publisher:
    """Publishes responses, reading each survey's questions once, every answer in one query,
    and writing every turn and sentence together (`flush`)."""

    def __init__(self, responses: Sequence[Response]) -> None:
        self.questions: dict[int, list[Question]] = {}
        self.titles: dict[int, set[str]] = {}
        self.answers: dict[int, dict[int, str]] = {}  # response -> question -> long text
        for response_id, question_id, value in (
            Answer.objects.filter(
                response__in=[r.pk for r in responses if r.is_submitted],
                question__kind=Question.Kind.LONG_TEXT,
                item="",
            )
            .order_by()
            .values_list("response_id", "question_id", "value")
        ):
            self.answers.setdefault(response_id, {})[question_id] = value
        self.turns: list[Turn] = []
        self.sentences: list[Sentence] = []

    def flush(self) -> None:
        Turn.objects.bulk_create(self.turns, batch_size=1000)
        Sentence.objects.bulk_create(self.sentences, batch_size=1000)
        self.turns, self.sentences = [], []

    def long_questions(self, survey: Survey) -> list[Question]:
        if survey.pk not in self.questions:
            self.questions[survey.pk] = sorted(
                survey.questions.filter(kind=Question.Kind.LONG_TEXT)
                .select_related("page")
                .prefetch_related("translations"),
                key=lambda q: (q.page is None, q.page.order if q.page else 0, q.order, q.pk),
            )
        return self.questions[survey.pk]

    def taken_titles(self, survey: Survey) -> set[str]:
        if survey.study_id not in self.titles:
            self.titles[survey.study_id] = set(
                Document.objects.filter(study_id=survey.study_id).values_list("title", flat=True)
            )
        return self.titles[survey.study_id]

    def title_for(self, response: Response) -> str:
        survey = response.survey
        if response.participant is not None:
            who = response.participant.code
        else:
            earlier = survey.responses.filter(participant__isnull=True, pk__lte=response.pk)
            who = f"anonymous {earlier.count()}"
        base = f"{survey.title} · {who}"[:190]
        taken = self.taken_titles(survey)
        title, n = base, 2
        while title in taken:
            title, n = f"{base} ({n})", n + 1
        return title

    def publish(self, response: Response) -> Document | None:
        if not response.is_submitted:
            return None
        survey = response.survey
        language = _language_of(response)
        questions = self.long_questions(survey)
        answers = self.answers.get(response.pk, {})
        pairs = []
        for question in questions:
            answer = normalise(answers.get(question.pk, "")).strip()
            if answer:
                pairs.append((_read_as(question, language), answer))
        participant = response.participant
        speaker = participant.code if participant is not None else ANONYMOUS_SPEAKER
        text, turns = compose_text(pairs, speaker) if pairs else ("", [])
        sha = hashlib.sha256(text.encode()).hexdigest()

        document = response.document
        if document is not None:
            if pairs and document.sha256 == sha:
                return document
            attached = document.attached_objects()
            if attached:
                what = ", ".join(f"{n:,} {name}" for name, n in attached.items())
                verb = "refers" if sum(attached.values()) == 1 else "refer"
                who = participant.code if participant else "an anonymous respondent"
                raise TextAnswersFrozen(
                    f"the long-text answers of {who} to {survey.slug} are the document "
                    f"'{document.title}', and {what} {verb} to its text, so they cannot change"
                )
            if not pairs:
                response.document = None
                response.save(update_fields=["document"])
                self.taken_titles(survey).discard(document.title)
                document.delete()
                return None
            document.turns.all().delete()
            document.sentences.all().delete()
        elif not pairs:
            return None

        fields = {
            "workshop": participant.workshop if participant is not None else None,
            "kind": Document.Kind.SURVEY,
            "language": language,
            "text": text,
            "sha256": sha,
            "source_name": f"{survey.title} (survey {survey.slug})"[:255],
            "source_format": SOURCE_FORMAT,
            "word_count": count_words(text),
            "imported_by": response.imported_by,
        }
        if document is None:
            document = Document.objects.create(
                study_id=survey.study_id, title=self.title_for(response), **fields
            )
            self.taken_titles(survey).add(document.title)
            response.document = document
            response.save(update_fields=["document"])
        else:
            for name, value in fields.items():
                setattr(document, name, value)
            document.save()
        self.store_turns(document, turns, participant)
        return document

    def store_turns(
        self, document: Document, turns: list[ParsedTurn], participant: Participant | None
    ) -> None:
        """The turns as the transcript import stores them, and the sentences in them found by
        the same splitter."""
        self.turns.extend(
            Turn(
                document=document,
                seq=seq,
                speaker=turn.speaker[:100],
                participant=participant if turn.speaker != QUESTION_SPEAKER else None,
                start=turn.start,
                end=turn.end,
            )
            for seq, turn in enumerate(turns, start=1)
        )
        regions = [(t.start, t.end) for t in turns]
        self.sentences.extend(
            Sentence(document=document, seq=seq, start=start, end=end)
            for seq, (start, end) in enumerate(
                sentence_spans(document.text, regions, document.language), start=1
            )
        )


def _language_of(response: Response) -> str:
    """The language the respondent answered in; the workshop's tag when it says the same
    language more precisely ("en-GB" for an answer in "en" from the British workshop)."""
    survey = response.survey
    language = response.language or survey.language
    if not BCP47_RE.match(language):
        language = survey.language
    participant = response.participant
    workshop_language = participant.workshop.language if participant is not None else ""
    if workshop_language and base_language(workshop_language) == base_language(language):
        return workshop_language
    return language


def _read_as(question: Question, language: str) -> str:
    """The question as the respondent read it: in their language when it is translated."""
    translations = {t.language: t.text for t in question.translations.all() if t.text}
    return translations.get(language) or translations.get(base_language(language)) or question.label


def publish_text_answers(response: Response) -> Document | None:
    """Make (once) the survey text document of a submitted response's long-text answers, and
    return it; None when the response is a draft or has no long-text answer. Answers that
    changed since (a response replaced by an import) rewrite the document only while nothing
    refers to its text; otherwise TextAnswersFrozen says so."""
    publisher = _Publisher([response])
    with transaction.atomic():
        document = publisher.publish(response)
        publisher.flush()
    return document


def publish_survey_texts(
    *,
    survey: Survey,
    participants: Iterable[Participant] | None = None,
    filename: str | None = None,
) -> list[Document]:
    """Publish the submitted responses of a survey (or only those of `participants`): what a
    response import and the demo call after writing answers. With `filename` (an import), a
    document that cannot change is a FileRejected naming the file."""
    responses = survey.responses.filter(submitted_at__isnull=False).select_related(
        "survey", "participant__workshop", "document", "imported_by"
    )
    if participants is not None:
        responses = responses.filter(participant__in=list(participants))
    responses = list(responses.order_by("pk"))
    publisher = _Publisher(responses)
    documents = []
    with transaction.atomic():
        for response in responses:
            try:
                document = publisher.publish(response)
            except TextAnswersFrozen as exc:
                if filename is None:
                    raise
                raise FileRejected(str(exc), filename=filename) from None
            if document is not None:
                documents.append(document)
        publisher.flush()
    return documents

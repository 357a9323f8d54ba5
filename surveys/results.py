"""A survey's results: per question, overall and by group, and the change between two waves.

Pure computation from the database (no views): the results page, the API and the exports read
these dataclasses. All of a survey's answers are read in one query, however many questions and
respondents it has; grouping comes from `studies.groups.participant_groups`.

Who is counted (the *respondents*): every submitted response of the survey, and drafts too when
`include_drafts`. A response without a participant (an anonymous link) counts only in the overall
group, never in a group of participants. For each question, *n* is the respondents who answered
it and *missing* the respondents who did not, whether the question was skipped, hidden from them
by display logic, or not reached in a draft: n + missing = respondents, always.

Scores: a Likert point's score is its position 1..k in the question's option order (option
codes are names, not numbers; see surveys.models), also for a matrix's rows; a number is its
value. Shares are fractions 0..1 of the question's (or matrix row's) n; a multiple choice's
shares are shares of respondents, so they can add up to more than 1.

numpy and scipy are imported by the two functions that use them (quartiles, the Wilcoxon test):
the survey pages that import this module for its names do not load them.
"""

from __future__ import annotations

import datetime
import math
import statistics
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from studies.groups import ALL, ParticipantGroups, participant_groups
from surveys.forms import choice_codes
from surveys.models import OTHER, Answer, Option, Question, Response, Survey

LIKERT = {Question.Kind.LIKERT5, Question.Kind.LIKERT7}
CHOICE_KINDS = LIKERT | {Question.Kind.SINGLE, Question.Kind.MULTIPLE}
OTHER_LABEL = "Other"


class ResultsError(ValueError):
    """Results that cannot be computed as asked; the message says why and what to do."""


# --- What a question's results are made of -------------------------------------------------


@dataclass
class OptionCount:
    """One option (or "_other" text, or a code the options do not list) and how many chose it.

    `share` is count / n of the question or matrix row (None when n is 0); `score` the
    option's position 1..k for a Likert scale or a matrix, else None."""

    code: str
    label: str
    count: int
    share: float | None
    score: int | None = None


@dataclass
class RowResult:
    """One row of a matrix: its n and missing, its counts per point and its mean score."""

    code: str
    label: str
    n: int
    missing: int
    counts: list[OptionCount]
    mean: float | None


@dataclass
class RankResult:
    """One option of a ranking: how many ranked it (n) and its mean place (1 = first)."""

    code: str
    label: str
    n: int
    mean_rank: float | None


@dataclass
class NumberSummary:
    """A number question's values. `sd` is the sample standard deviation (n - 1; None below 2
    values); quartiles interpolate linearly between values (numpy's and pandas' default)."""

    n: int
    mean: float | None
    sd: float | None
    median: float | None
    min: float | None
    max: float | None
    q1: float | None
    q3: float | None


@dataclass
class DateSummary:
    n: int
    earliest: datetime.date | None
    latest: datetime.date | None


@dataclass
class GroupResult:
    """One question's results in one group of respondents ("all" for everyone).

    Always: `respondents`, `n`, `missing`. Then by kind: `options` (single, Likert, multiple:
    the options in order, then "_other" when the question allows it, then unlisted codes);
    `mean` and `median` (Likert scores); `rows` (matrix); `ranks` (ranking, in option order);
    `number` (number); `dates` (date). Text questions have n and missing only."""

    group: str
    respondents: int
    n: int
    missing: int
    options: list[OptionCount] = field(default_factory=list)
    mean: float | None = None
    median: float | None = None
    rows: list[RowResult] = field(default_factory=list)
    ranks: list[RankResult] = field(default_factory=list)
    number: NumberSummary | None = None
    dates: DateSummary | None = None


@dataclass
class QuestionResult:
    """One question: `overall` (every counted respondent, anonymous ones included) and
    `groups`, one per group of `by` in its order (just `[overall]` when `by` is None)."""

    question_id: int
    code: str
    kind: str
    label: str
    overall: GroupResult
    groups: list[GroupResult]


# --- Reading the survey once ---------------------------------------------------------------


@dataclass
class _Respondent:
    response_id: int
    participant_id: int | None
    answers: dict[tuple[int, str], str]  # (question id, item) -> value


def _questions(survey: Survey) -> list[Question]:
    return list(survey.questions.order_by("order", "pk").prefetch_related("options"))


def _respondents(survey: Survey, *, include_drafts: bool) -> list[_Respondent]:
    responses = Response.objects.filter(survey=survey)
    if not include_drafts:
        responses = responses.filter(submitted_at__isnull=False)
    people = {
        pk: _Respondent(pk, participant, {})
        for pk, participant in responses.values_list("pk", "participant_id")
    }
    answers = Answer.objects.filter(response__in=responses).values_list(
        "response_id", "question_id", "item", "value"
    )
    for response_id, question_id, item, value in answers:
        if response_id in people and value.strip():
            people[response_id].answers[(question_id, item)] = value.strip()
    return list(people.values())


def _choices(question: Question) -> list[tuple[str, str]]:
    """(code, label) of the question's choices in order; a Likert scale without options is
    scored 1..k by `choice_codes` and labelled by its codes."""
    labels = {o.code: o.label for o in question.options.all() if o.role == Option.Role.CHOICE}
    return [(code, labels.get(code, code)) for code in choice_codes(question)]


def _rows(question: Question) -> list[tuple[str, str]]:
    return [(o.code, o.label) for o in question.options.all() if o.role == Option.Role.ROW]


def _share(count: int, n: int) -> float | None:
    return count / n if n else None


def _mean(values: list[float]) -> float | None:
    return statistics.fmean(values) if values else None


def _median(values: list[float]) -> float | None:
    return float(statistics.median(values)) if values else None


def scale_scores(choices: Iterable[tuple[str, str]]) -> dict[str, int]:
    """The one scoring rule of closed answers: an option's position 1..k in the question's
    option order (codes are not numbers), read by the results, the change between waves and
    the exports app's labelled files and comparisons."""
    return {code: i for i, (code, _label) in enumerate(choices, start=1)}


def answer_number(value: str) -> float | None:
    """A number question's stored answer as a number (a decimal comma read as a point), or
    None when it is not a finite number."""
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _date(value: str) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        return None


# --- Summaries -----------------------------------------------------------------------------


def _counts(
    choices: list[tuple[str, str]], chosen: list[list[str]], n: int, *, scored: bool
) -> list[OptionCount]:
    tally: dict[str, int] = defaultdict(int)
    for codes in chosen:
        for code in set(codes):
            tally[code] += 1
    known = [code for code, _label in choices]
    result = [
        OptionCount(code, label, tally[code], _share(tally[code], n), i if scored else None)
        for i, (code, label) in enumerate(choices, start=1)
    ]
    for code in sorted(set(tally) - set(known)):
        label = OTHER_LABEL if code == OTHER else code
        result.append(OptionCount(code, label, tally[code], _share(tally[code], n)))
    return result


def _summarise_group(question: Question, group: str, respondents: list[_Respondent]) -> GroupResult:
    kind, qid = question.kind, question.pk
    result = GroupResult(group=group, respondents=len(respondents), n=0, missing=0)

    if kind == Question.Kind.MATRIX:
        choices = _choices(question)
        score = scale_scores(choices)
        for row_code, row_label in _rows(question):
            values = [
                r.answers[(qid, row_code)] for r in respondents if (qid, row_code) in r.answers
            ]
            scores = [score[v] for v in values if v in score]
            result.rows.append(
                RowResult(
                    row_code,
                    row_label,
                    len(values),
                    len(respondents) - len(values),
                    _counts(choices, [[v] for v in values], len(values), scored=True),
                    _mean(scores),
                )
            )
        rows = {code for code, _label in _rows(question)}
        answered = sum(1 for r in respondents if any((qid, row) in r.answers for row in rows))
        result.n, result.missing = answered, len(respondents) - answered
        return result

    def value(r: _Respondent) -> str | None:
        return r.answers.get((qid, ""))

    if kind == Question.Kind.MULTIPLE:
        chosen = []
        for r in respondents:
            codes = (value(r) or "").split()
            if question.allows_other and (qid, OTHER) in r.answers:
                codes.append(OTHER)
            if codes:
                chosen.append(codes)
        result.n = len(chosen)
        choices = _choices(question)
        if question.allows_other:
            choices = [*choices, (OTHER, OTHER_LABEL)]
        result.options = _counts(choices, chosen, result.n, scored=False)
    elif kind in LIKERT or kind == Question.Kind.SINGLE:
        values = [v for r in respondents if (v := value(r)) is not None]
        result.n = len(values)
        choices = _choices(question)
        result.options = _counts(choices, [[v] for v in values], result.n, scored=kind in LIKERT)
        if kind in LIKERT:
            score = scale_scores(choices)
            scores = [float(score[v]) for v in values if v in score]
            result.mean, result.median = _mean(scores), _median(scores)
    elif kind == Question.Kind.RANKING:
        orders = [v.split() for r in respondents if (v := value(r)) is not None]
        result.n = len(orders)
        places: dict[str, list[int]] = defaultdict(list)
        for order in orders:
            for place, code in enumerate(order, start=1):
                places[code].append(place)
        choices = _choices(question)
        known = {code for code, _label in choices}
        extra = [(code, code) for code in sorted(set(places) - known)]
        result.ranks = [
            RankResult(code, label, len(places[code]), _mean([float(p) for p in places[code]]))
            for code, label in [*choices, *extra]
        ]
    elif kind == Question.Kind.NUMBER:
        numbers = [x for r in respondents if (x := answer_number(value(r) or "")) is not None]
        result.n = len(numbers)
        result.number = _number_summary(numbers)
    elif kind == Question.Kind.DATE:
        dates = [d for r in respondents if (d := _date(value(r) or "")) is not None]
        result.n = len(dates)
        result.dates = DateSummary(len(dates), min(dates, default=None), max(dates, default=None))
    else:
        result.n = sum(1 for r in respondents if value(r) is not None)
    result.missing = len(respondents) - result.n
    return result


def _number_summary(numbers: list[float]) -> NumberSummary:
    if not numbers:
        return NumberSummary(0, None, None, None, None, None, None, None)
    import numpy as np

    q1, median, q3 = (float(q) for q in np.percentile(numbers, [25, 50, 75]))
    return NumberSummary(
        n=len(numbers),
        mean=statistics.fmean(numbers),
        sd=statistics.stdev(numbers) if len(numbers) > 1 else None,
        median=median,
        min=min(numbers),
        max=max(numbers),
        q1=q1,
        q3=q3,
    )


def summarise(
    survey: Survey, *, by: str | None = None, include_drafts: bool = False
) -> list[QuestionResult]:
    """Every question of the survey in survey order, overall and per group of `by` (None,
    "country", "workshop" or "variable:NAME", as `studies.groups.participant_groups` reads
    it; an unknown one raises its UnknownGroup, a ValueError naming the known groupings).

    Respondents are the submitted responses, and the drafts too when `include_drafts`. A
    question's `missing` counts every respondent without an answer to it, including those
    to whom display logic hid it. Anonymous responses count in `overall` only."""
    grouping = participant_groups(survey.study, by)
    respondents = _respondents(survey, include_drafts=include_drafts)
    members = _by_group(grouping, respondents)
    results = []
    for question in _questions(survey):
        overall = _summarise_group(question, ALL, respondents)
        if by in (None, ""):
            groups = [overall]
        else:
            groups = [_summarise_group(question, g, members[g]) for g in grouping.groups]
        results.append(
            QuestionResult(
                question.pk, question.code, question.kind, question.label, overall, groups
            )
        )
    return results


def _by_group(
    grouping: ParticipantGroups, respondents: Iterable[_Respondent]
) -> dict[str, list[_Respondent]]:
    members: dict[str, list[_Respondent]] = {g: [] for g in grouping.groups}
    for respondent in respondents:
        group = grouping.of.get(respondent.participant_id)  # None for anonymous responses
        if group is not None:
            members.setdefault(group, []).append(respondent)
    return members


def count_respondents(survey: Survey, *, include_drafts: bool = False) -> int:
    """How many respondents `summarise` counts with the same `include_drafts`."""
    responses = Response.objects.filter(survey=survey)
    if not include_drafts:
        responses = responses.filter(submitted_at__isnull=False)
    return responses.count()


# --- Change between waves ------------------------------------------------------------------

PAIRED_KINDS = LIKERT | {Question.Kind.NUMBER, Question.Kind.MATRIX}


@dataclass
class PairedChange:
    """One item's change in one group: the participants answering it in both waves.

    `difference` is after - before per participant. `statistic` and `p_value` are
    `scipy.stats.wilcoxon(after, before)` (two-sided, zero_method "wilcox": pairs without a
    difference are dropped; the statistic is the smaller of R+ and R-). `rank_biserial` is
    the matched-pairs rank-biserial correlation (R+ - R-) / (R+ + R-): the absolute nonzero
    differences are ranked (ties get their mean rank) and R+ / R- sum the ranks of the
    positive / negative ones, so it is +1 when everybody rose and -1 when everybody fell.
    All three are None when `reason` says why they cannot be
    computed (no pairs, or no pair with a difference)."""

    group: str
    n_pairs: int
    mean_before: float | None
    mean_after: float | None
    mean_difference: float | None
    median_difference: float | None
    statistic: float | None
    p_value: float | None
    rank_biserial: float | None
    reason: str = ""


@dataclass
class ChangeResult:
    """One item compared between the earlier wave and this one: a Likert or number question
    (`item` ""), or one row of a matrix (`item` the row's code). `overall` holds every pair;
    `groups` one entry per group of `by` (just `[overall]` when `by` is None)."""

    code: str
    item: str
    label: str  # the question's label, or the matrix row's
    question_label: str
    kind: str
    overall: PairedChange
    groups: list[PairedChange]


def _scores(question: Question, respondents: list[_Respondent]) -> dict[tuple[int, str], float]:
    """(participant id, item) -> score for a paired question's answers."""
    qid = question.pk
    result: dict[tuple[int, str], float] = {}
    if question.kind == Question.Kind.NUMBER:
        for r in respondents:
            number = answer_number(r.answers.get((qid, ""), ""))
            if number is not None and r.participant_id is not None:
                result[(r.participant_id, "")] = number
        return result
    score = scale_scores(_choices(question))
    items = (
        [code for code, _label in _rows(question)]
        if question.kind == Question.Kind.MATRIX
        else [""]
    )
    for r in respondents:
        if r.participant_id is None:
            continue
        for item in items:
            value = r.answers.get((qid, item))
            if value in score:
                result[(r.participant_id, item)] = float(score[value])
    return result


def paired_change(group: str, before: list[float], after: list[float]) -> PairedChange:
    """The change from `before` to `after`, paired by position (see PairedChange)."""
    n = len(before)
    if not n:
        return PairedChange(group, 0, None, None, None, None, None, None, None, "No pairs.")
    differences = [a - b for a, b in zip(after, before, strict=True)]
    change = PairedChange(
        group,
        n,
        statistics.fmean(before),
        statistics.fmean(after),
        statistics.fmean(differences),
        float(statistics.median(differences)),
        None,
        None,
        None,
    )
    nonzero = [d for d in differences if d != 0]
    if not nonzero:
        change.reason = "Every pair has the same score in both waves: there is no change to test."
        return change
    from scipy import stats

    try:
        test = stats.wilcoxon(after, before)
    except ValueError as exc:
        change.reason = f"The Wilcoxon test cannot be computed here: {exc}"
        return change
    if math.isnan(test.pvalue):
        change.reason = "The Wilcoxon test gives no p-value for these pairs."
        return change
    change.statistic, change.p_value = float(test.statistic), float(test.pvalue)
    ranks = stats.rankdata([abs(d) for d in nonzero])
    positive = float(sum(r for r, d in zip(ranks, nonzero, strict=True) if d > 0))
    negative = float(sum(r for r, d in zip(ranks, nonzero, strict=True) if d < 0))
    change.rank_biserial = (positive - negative) / (positive + negative)
    return change


def wave_change(survey: Survey, *, by: str | None = None) -> list[ChangeResult]:
    """For a later wave (`survey.wave_of` set): the change per participant from the earlier
    wave, for each Likert, number and matrix-row item whose question has the same code and
    kind in both waves, in this survey's order. Pairs are participants with a submitted
    response in both waves who answered the item in both. Overall and per group of `by`
    (the participant's group). Raises ResultsError for a survey that is not a later wave."""
    earlier = survey.wave_of
    if earlier is None:
        raise ResultsError(
            f"The survey '{survey.slug}' is not a later wave of another survey, so there is "
            "no change to compute: set its earlier wave ('wave of') first."
        )
    grouping = participant_groups(survey.study, by)
    before_questions = {q.code: q for q in _questions(earlier)}
    before_people = _respondents(earlier, include_drafts=False)
    after_people = _respondents(survey, include_drafts=False)
    results = []
    for question in _questions(survey):
        previous = before_questions.get(question.code)
        if question.kind not in PAIRED_KINDS or previous is None or previous.kind != question.kind:
            continue
        before, after = _scores(previous, before_people), _scores(question, after_people)
        if question.kind == Question.Kind.MATRIX:
            earlier_rows = {code for code, _label in _rows(previous)}
            items = [(code, label) for code, label in _rows(question) if code in earlier_rows]
        else:
            items = [("", question.label)]
        for item, label in items:
            pairs = sorted(
                (pid, before[(pid, i)], after[(pid, i)])
                for (pid, i) in after
                if i == item and (pid, i) in before
            )
            overall = paired_change(ALL, [b for _p, b, _a in pairs], [a for _p, _b, a in pairs])
            if by in (None, ""):
                groups = [overall]
            else:
                groups = []
                for group in grouping.groups:
                    mine = [(b, a) for pid, b, a in pairs if grouping.of.get(pid) == group]
                    groups.append(
                        paired_change(group, [b for b, _a in mine], [a for _b, a in mine])
                    )
            results.append(
                ChangeResult(
                    question.code, item, label, question.label, question.kind, overall, groups
                )
            )
    return results

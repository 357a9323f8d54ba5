"""The results page of a survey: every question's counts and summaries, overall or by group,
and the change between two waves. Open to every member of the study (viewers too): it shows
aggregates only, never one respondent's answers.

The numbers come from `surveys.results`; this module only arranges them for the page: shares
as percentages, the segments of a Likert scale's diverging bar and the shades of a matrix's
heatmap.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth.decorators import login_required
from django.db.models import Count, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render

from studies.access import get_study_for_user
from studies.groups import UnknownGroup, grouping_choices, participant_groups
from surveys.models import Question, Survey
from surveys.results import (
    LIKERT,
    ChangeResult,
    GroupResult,
    OptionCount,
    QuestionResult,
    summarise,
    wave_change,
)

# A heatmap cell's shade by its share: (upper bound, css class). Dark shades carry white text.
SHADES = [(0.1, "hm-0"), (0.3, "hm-1"), (0.5, "hm-2"), (0.7, "hm-3"), (0.85, "hm-4")]
DARKEST = "hm-5"
EVERYONE = "All"
NONE = "\N{EN DASH}"  # shown where there is no value
KIND_LABELS = dict(Question.Kind.choices)


def percent(share: float | None) -> str:
    return NONE if share is None else f"{share * 100:.0f}%"


def number(value: float | None, places: int = 2) -> str:
    if value is None:
        return NONE
    text = f"{value:.{places}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


# --- Likert: the diverging bar ----------------------------------------------------------------


@dataclass
class Segment:
    """One point of a Likert bar: its place (left edge) and width in percent of the bar, whose
    middle is the scale's middle; `tone` names its colour by side and distance from it."""

    code: str
    label: str
    count: int
    share: str
    left: float
    width: float
    tone: str


@dataclass
class LikertBar:
    group: str
    n: int
    missing: int
    mean: str
    median: str
    segments: list[Segment]


def tone(position: int, points: int) -> str:
    """The colour of point `position` (0-based) of a `points`-point scale: "mid" for the
    middle of an odd scale, else n1..n3 (disagreeing) or p1..p3 (agreeing), 3 the farthest."""
    half = points // 2
    if points % 2 and position == half:
        return "mid"
    if position < half:
        side, distance = "n", half - position
    else:
        side, distance = "p", position - (points - half) + 1
    if half <= 1:
        return f"{side}3"
    strength = 1 + round((distance - 1) * 2 / (half - 1))
    return f"{side}{strength}"


def likert_bar(result: GroupResult) -> LikertBar:
    """The bar spans disagreement at its left to agreement at its right; the neutral point
    straddles the middle line. Each share is drawn at half its size, so that a bar that is all
    on one side still fits."""
    scale = [o for o in result.options if o.score is not None]
    points = len(scale)
    half = points // 2
    shares = [o.share or 0.0 for o in scale]
    left_side = sum(shares[:half]) + (shares[half] / 2 if points % 2 else 0.0)
    at = 50.0 - left_side * 50.0
    segments = []
    for position, option in enumerate(scale):
        width = (option.share or 0.0) * 50.0
        segments.append(
            Segment(
                option.code,
                option.label,
                option.count,
                percent(option.share),
                round(at, 3),
                round(width, 3),
                tone(position, points),
            )
        )
        at += width
    return LikertBar(
        result.group,
        result.n,
        result.missing,
        number(result.mean),
        number(result.median),
        segments,
    )


# --- Tables: options by group -----------------------------------------------------------------


@dataclass
class OptionRow:
    code: str
    label: str
    cells: list[str]  # "count (share)" per group


def option_rows(shown: list[GroupResult]) -> list[OptionRow]:
    """Every option found in any group, in the options' order, with a cell per group."""
    order: dict[str, str] = {}
    for group in shown:
        for option in group.options:
            order.setdefault(option.code, option.label)
    rows = []
    for code, label in order.items():
        cells = []
        for group in shown:
            found: OptionCount | None = next((o for o in group.options if o.code == code), None)
            count = found.count if found else 0
            cells.append(f"{count} ({percent(found.share if found else None)})")
        rows.append(OptionRow(code, label, cells))
    return rows


def rank_rows(shown: list[GroupResult]) -> list[OptionRow]:
    """Every option with its mean place per group, the best placed overall first."""
    order: dict[str, str] = {}
    for group in shown:
        for rank in group.ranks:
            order.setdefault(rank.code, rank.label)
    rows = []
    for code, label in order.items():
        cells = []
        for group in shown:
            found = next((r for r in group.ranks if r.code == code), None)
            cells.append(f"{number(found.mean_rank)} (n = {found.n})" if found else NONE)
        rows.append(OptionRow(code, label, cells))
    # The best placed first, by the overall mean rank; options nobody ranked last.
    overall = {r.code: r.mean_rank for r in shown[0].ranks}
    rows.sort(key=lambda row: (overall.get(row.code) is None, overall.get(row.code) or 0))
    return rows


# --- Matrix: the heatmap ----------------------------------------------------------------------


@dataclass
class HeatCell:
    count: int
    share: str
    shade: str


@dataclass
class HeatRow:
    code: str
    label: str
    n: int
    missing: int
    mean: str
    cells: list[HeatCell]


@dataclass
class Heatmap:
    group: str
    n: int
    missing: int
    points: list[tuple[str, str]]
    rows: list[HeatRow] = field(default_factory=list)


def shade(share: float | None) -> str:
    if not share:
        return "hm-0"
    return next((name for bound, name in SHADES if share < bound), DARKEST)


def heatmap(result: GroupResult) -> Heatmap:
    points = [(o.code, o.label) for o in result.rows[0].counts] if result.rows else []
    found = Heatmap(result.group, result.n, result.missing, points)
    for row in result.rows:
        by_code = {o.code: o for o in row.counts}
        cells = []
        for code, _label in points:
            option = by_code.get(code)
            share = option.share if option else None
            cells.append(HeatCell(option.count if option else 0, percent(share), shade(share)))
        found.rows.append(HeatRow(row.code, row.label, row.n, row.missing, number(row.mean), cells))
    return found


# --- The page -------------------------------------------------------------------------------


@dataclass
class Section:
    """One question as the page shows it: `shown` is everyone, then each group when the page
    is grouped, and `columns` names them."""

    result: QuestionResult
    kind_label: str
    shape: str  # likert, choice, matrix, ranking, number, date, text
    shown: list[GroupResult]
    columns: list[str]
    rows: list[OptionRow] = field(default_factory=list)
    bars: list[LikertBar] = field(default_factory=list)
    heatmaps: list[Heatmap] = field(default_factory=list)


def section(result: QuestionResult, *, grouped: bool) -> Section:
    kind = result.kind
    shown = [result.overall, *(result.groups if grouped else [])]
    columns = [EVERYONE, *(group.group for group in shown[1:])]
    made = Section(result, KIND_LABELS.get(kind, kind), "text", shown, columns)
    if kind in LIKERT:
        made.shape, made.rows = "likert", option_rows(shown)
        made.bars = [likert_bar(group) for group in shown]
        for bar, column in zip(made.bars, columns, strict=True):
            bar.group = column
    elif kind in (Question.Kind.SINGLE, Question.Kind.MULTIPLE):
        made.shape, made.rows = "choice", option_rows(shown)
    elif kind == Question.Kind.MATRIX:
        made.shape = "matrix"
        made.heatmaps = [heatmap(group) for group in shown]
        for found, column in zip(made.heatmaps, columns, strict=True):
            found.group = column
    elif kind == Question.Kind.RANKING:
        made.shape, made.rows = "ranking", rank_rows(shown)
    elif kind == Question.Kind.NUMBER:
        made.shape = "number"
    elif kind == Question.Kind.DATE:
        made.shape = "date"
    return made


@dataclass
class ChangeRow:
    change: ChangeResult
    group: str
    n_pairs: int
    mean_before: str
    mean_after: str
    mean_difference: str
    median_difference: str
    statistic: str
    p_value: str
    rank_biserial: str
    reason: str


def change_rows(changes: list[ChangeResult], *, grouped: bool) -> list[ChangeRow]:
    """A row per item and group: everyone first, then each group when the page is grouped."""
    rows = []
    for change in changes:
        for paired in [change.overall, *(change.groups if grouped else [])]:
            rows.append(
                ChangeRow(
                    change,
                    EVERYONE if paired is change.overall else paired.group,
                    paired.n_pairs,
                    number(paired.mean_before),
                    number(paired.mean_after),
                    number(paired.mean_difference),
                    number(paired.median_difference),
                    number(paired.statistic),
                    NONE if paired.p_value is None else f"{paired.p_value:.3f}",
                    number(paired.rank_biserial),
                    paired.reason,
                )
            )
    return rows


@login_required
def results(request: HttpRequest, slug: str, survey: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug)
    found = Survey.objects.filter(study=study, slug=survey).select_related("wave_of").first()
    if found is None:
        raise Http404("No such survey in this study.")
    survey_obj = found
    by = request.GET.get("by", "").strip() or None
    include_drafts = request.GET.get("include_drafts", "") in ("1", "on", "true")

    error, status = "", 200
    if by is not None:
        try:
            by = participant_groups(study, by).by
        except UnknownGroup as exc:
            error, status, by = str(exc), 400, None
    tally = survey_obj.responses.aggregate(
        submitted=Count("pk", filter=Q(submitted_at__isnull=False)),
        drafts=Count("pk", filter=Q(submitted_at__isnull=True)),
    )
    respondents = tally["submitted"] + (tally["drafts"] if include_drafts else 0)
    summaries = summarise(survey_obj, by=by, include_drafts=include_drafts)
    sections = [section(r, grouped=by is not None) for r in summaries]
    changes = (
        change_rows(wave_change(survey_obj, by=by), grouped=by is not None)
        if survey_obj.wave_of_id
        else []
    )
    return render(
        request,
        "surveys/results.html",
        {
            "study": study,
            "survey": survey_obj,
            "by": by or "",
            "include_drafts": include_drafts,
            "groupings": grouping_choices(study),
            "grouped": by is not None,
            "error": error,
            "respondents": respondents,
            "submitted": tally["submitted"],
            "drafts": tally["drafts"],
            "sections": sections if respondents else [],
            "changes": changes,
            "later_waves": list(survey_obj.waves.order_by("created_at")),
        },
        status=status,
    )

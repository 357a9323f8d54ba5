"""Survey results: counts, shares and summaries per question and group, change between waves,
and the results page. Every expected number is worked out by hand here from the answers the
test writes, never by calling the code under test."""

from __future__ import annotations

import datetime
import math

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from scipy import stats

from studies.groups import MISSING, UnknownGroup, participant_groups
from studies.models import Participant, ParticipantValue, Study, Variable
from surveys.models import OTHER, Answer, Option, Question, Response, Survey
from surveys.results import GroupResult, OptionCount, ResultsError, summarise, wave_change
from surveys.views_results import likert_bar, tone

LIKERT = [
    ("sd", "Strongly disagree"),
    ("d", "Disagree"),
    ("n", "Neither"),
    ("a", "Agree"),
    ("sa", "Strongly agree"),
]
LEVELS = [("low", "Low"), ("mid", "Medium"), ("high", "High")]


def add_question(survey: Survey, order: int, code: str, kind: str, **extra: object) -> Question:
    return Question.objects.create(
        survey=survey, order=order, code=code, kind=kind, label=f"About {code}?", **extra
    )


def add_options(question: Question, pairs: list[tuple[str, str]], role: str = "choice") -> None:
    for order, (code, label) in enumerate(pairs):
        Option.objects.create(question=question, code=code, label=label, order=order, role=role)


def respond(
    survey: Survey, participant: Participant | None, answers: dict[str, str], *, submit: bool = True
) -> Response:
    """A response with `answers` by "code" or "code.item"."""
    response = Response.objects.create(
        survey=survey,
        participant=participant,
        submitted_at=timezone.now() if submit else None,
    )
    for key, value in answers.items():
        code, _, item = key.partition(".")
        Answer.objects.create(
            response=response, question=survey.questions.get(code=code), item=item, value=value
        )
    return response


def build_pre(study: Study, slug: str = "pre") -> Survey:
    survey = Survey.objects.create(study=study, slug=slug, title="Before the workshop")
    add_options(add_question(survey, 0, "trust", "likert5"), LIKERT)
    domains = add_question(survey, 1, "domains", "multiple", allows_other=True)
    add_options(domains, [("hiring", "Hiring"), ("medicine", "Medicine"), ("justice", "Justice")])
    grid = add_question(survey, 2, "grid", "matrix")
    add_options(grid, LEVELS)
    add_options(grid, [("hiring", "In hiring"), ("medicine", "In medicine")], role="row")
    rank = add_question(survey, 3, "rank", "ranking")
    add_options(rank, [("a", "Accuracy"), ("b", "Explainability"), ("c", "Humanity")])
    add_question(survey, 4, "age", "number")
    add_question(survey, 5, "when", "date")
    add_question(survey, 6, "why", "long_text")
    return survey


@pytest.fixture
def pre(roster_study: Study) -> Survey:
    """P01 and P02 (FI-1) and P04 (GB-1) submitted, P03 (FI-1) left a draft, P05 did not
    answer, and one anonymous respondent submitted."""
    survey = build_pre(roster_study)
    p = {x.code: x for x in roster_study.participants.all()}
    respond(
        survey,
        p["P01"],
        {
            "trust": "a",
            "domains": "hiring medicine",
            "grid.hiring": "high",
            "grid.medicine": "low",
            "rank": "b a c",
            "age": "30",
            "when": "2025-03-01",
            "why": "Because it decides about me.",
        },
    )
    respond(
        survey,
        p["P02"],
        {
            "trust": "sa",
            "domains": "hiring",
            f"domains.{OTHER}": "housing",
            "grid.hiring": "mid",
            "rank": "a c",
            "age": "20",
        },
    )
    respond(survey, p["P03"], {"trust": "sd", "domains": "justice", "age": "50"}, submit=False)
    respond(survey, p["P04"], {"trust": "n", "why": "No idea."})
    respond(survey, None, {"trust": "d", "age": "41", "when": "2025-04-02"})
    return survey


def by_code(results: list) -> dict:
    return {result.code: result for result in results}


def counts(options: list) -> dict[str, tuple[int, float | None]]:
    return {option.code: (option.count, option.share) for option in options}


# --- Groups ---------------------------------------------------------------------------------


def test_it_groups_participants_by_country_and_workshop(roster_study: Study) -> None:
    codes = {p.pk: p.code for p in roster_study.participants.all()}
    country = participant_groups(roster_study, "country")
    assert country.groups == ["FI", "GB"]
    assert {codes[pk]: g for pk, g in country.of.items()} == {
        "P01": "FI",
        "P02": "FI",
        "P03": "FI",
        "P04": "GB",
        "P05": "GB",
    }
    workshop = participant_groups(roster_study, "workshop")
    assert workshop.groups == ["FI-1", "GB-1"]
    assert workshop.sizes() == {"FI-1": 3, "GB-1": 2}
    everyone = participant_groups(roster_study, None)
    assert everyone.groups == ["all"] and set(everyone.of.values()) == {"all"}


def test_it_orders_a_variables_groups_choices_first_then_values_then_missing(
    roster_study: Study,
) -> None:
    p = {x.code: x for x in roster_study.participants.all()}
    trust = Variable.objects.create(
        study=roster_study, name="Trust level", kind="choice", choices="low\nmedium\nhigh"
    )
    ParticipantValue.objects.create(participant=p["P01"], variable=trust, value="high")
    ParticipantValue.objects.create(participant=p["P02"], variable=trust, value="zany")
    ParticipantValue.objects.create(participant=p["P03"], variable=trust, value="low")
    ParticipantValue.objects.create(participant=p["P04"], variable=trust, value="")
    grouped = participant_groups(roster_study, "variable:trust LEVEL")
    # "medium" is listed although nobody has it; P04's empty value and P05 are missing.
    assert grouped.groups == ["low", "medium", "high", "zany", MISSING]
    assert sorted(p.code for p in Participant.objects.filter(pk__in=grouped.members(MISSING))) == [
        "P04",
        "P05",
    ]
    years = Variable.objects.create(study=roster_study, name="years", kind="number")
    for code, value in [("P01", "10"), ("P02", "9"), ("P03", "100")]:
        ParticipantValue.objects.create(participant=p[code], variable=years, value=value)
    assert participant_groups(roster_study, "variable:years").groups == ["9", "10", "100", MISSING]


def test_it_names_the_known_groups_for_an_unknown_one(roster_study: Study) -> None:
    with pytest.raises(UnknownGroup, match=r"Unknown variable 'colour'.*age band, gender"):
        participant_groups(roster_study, "variable:colour")
    with pytest.raises(ValueError, match="Unknown group 'planet': use country, workshop"):
        participant_groups(roster_study, "planet")


# --- Summaries ------------------------------------------------------------------------------


def test_it_counts_submitted_responses_overall(pre: Survey) -> None:
    results = by_code(summarise(pre))
    assert list(results) == ["trust", "domains", "grid", "rank", "age", "when", "why"]
    # Respondents: P01, P02, P04 and the anonymous one (P03's draft is left out).
    trust = results["trust"].overall
    assert (trust.respondents, trust.n, trust.missing) == (4, 4, 0)
    assert counts(trust.options) == {
        "sd": (0, 0.0),
        "d": (1, 0.25),
        "n": (1, 0.25),
        "a": (1, 0.25),
        "sa": (1, 0.25),
    }
    # Scores by position: d=2, n=3, a=4, sa=5.
    assert trust.mean == pytest.approx(3.5) and trust.median == pytest.approx(3.5)
    assert [o.score for o in trust.options] == [1, 2, 3, 4, 5]
    assert results["trust"].groups == [trust]


def test_a_multiple_choice_shares_are_of_respondents_and_count_other(pre: Survey) -> None:
    domains = by_code(summarise(pre))["domains"].overall
    assert (domains.n, domains.missing) == (2, 2)
    assert counts(domains.options) == {
        "hiring": (2, 1.0),
        "medicine": (1, 0.5),
        "justice": (0, 0.0),
        OTHER: (1, 0.5),
    }
    assert sum(o.share for o in domains.options) > 1


def test_a_matrix_counts_each_row(pre: Survey) -> None:
    grid = by_code(summarise(pre))["grid"].overall
    assert (grid.n, grid.missing) == (2, 2)
    hiring, medicine = grid.rows
    assert (hiring.code, hiring.n, hiring.missing) == ("hiring", 2, 2)
    assert counts(hiring.counts) == {"low": (0, 0.0), "mid": (1, 0.5), "high": (1, 0.5)}
    assert hiring.mean == pytest.approx((2 + 3) / 2)
    assert (medicine.n, medicine.missing, medicine.mean) == (1, 3, 1.0)
    assert counts(medicine.counts)["low"] == (1, 1.0)


def test_a_ranking_gives_each_option_its_mean_place(pre: Survey) -> None:
    rank = by_code(summarise(pre))["rank"].overall
    assert (rank.n, rank.missing) == (2, 2)
    # P01 ranked b a c, P02 a c.
    assert [(r.code, r.n, r.mean_rank) for r in rank.ranks] == [
        ("a", 2, 1.5),
        ("b", 1, 1.0),
        ("c", 2, 2.5),
    ]


def test_numbers_dates_and_texts(pre: Survey) -> None:
    results = by_code(summarise(pre))
    age = results["age"].overall
    assert (age.n, age.missing) == (3, 1)
    summary = age.number
    values = [30, 20, 41]
    mean = sum(values) / 3
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 2)
    assert summary.mean == pytest.approx(mean) and summary.sd == pytest.approx(sd)
    assert (summary.median, summary.min, summary.max) == (30, 20, 41)
    # Sorted 20, 30, 41: the first quartile halfway between 20 and 30, the third between 30, 41.
    assert (summary.q1, summary.q3) == (pytest.approx(25), pytest.approx(35.5))
    when = results["when"].overall
    assert (when.n, when.missing) == (2, 2)
    assert (when.dates.earliest, when.dates.latest) == (
        datetime.date(2025, 3, 1),
        datetime.date(2025, 4, 2),
    )
    why = results["why"].overall
    assert (why.n, why.missing, why.options) == (2, 2, [])


def test_drafts_count_only_when_asked(pre: Survey) -> None:
    trust = by_code(summarise(pre, include_drafts=True))["trust"].overall
    assert (trust.respondents, trust.n) == (5, 5)
    assert trust.mean == pytest.approx((4 + 5 + 1 + 3 + 2) / 5)
    assert trust.median == 3


def test_groups_leave_anonymous_responses_out(pre: Survey) -> None:
    trust = by_code(summarise(pre, by="country"))["trust"]
    assert trust.overall.respondents == 4
    fi, gb = trust.groups
    assert (fi.group, fi.respondents, fi.n, fi.mean) == ("FI", 2, 2, 4.5)
    assert (gb.group, gb.respondents, gb.n, gb.mean) == ("GB", 1, 1, 3.0)
    with_drafts = by_code(summarise(pre, by="workshop", include_drafts=True))["trust"]
    fi1, _gb1 = with_drafts.groups
    assert (fi1.group, fi1.respondents) == ("FI-1", 3)
    assert fi1.mean == pytest.approx((4 + 5 + 1) / 3)


def test_a_group_without_respondents_has_zeros(pre: Survey) -> None:
    results = by_code(summarise(pre, by="variable:gender"))
    man, woman = results["domains"].groups
    # P02 (man) answered with "other"; P05 (man) did not respond. P01 and P04 are women.
    assert (man.group, man.respondents, man.n) == ("man", 1, 1)
    assert counts(man.options)[OTHER] == (1, 1.0)
    assert (woman.group, woman.respondents, woman.n, woman.missing) == ("woman", 2, 1, 1)
    age = by_code(summarise(pre, by="variable:age band"))["age"]
    sixty = age.groups[-1]
    assert (sixty.group, sixty.respondents, sixty.n, sixty.number.mean) == ("60+", 0, 0, None)


def test_it_reads_the_answers_in_a_fixed_number_of_queries(pre: Survey) -> None:
    with CaptureQueriesContext(connection) as few:
        summarise(pre, by="country")
    p = {x.code: x for x in pre.study.participants.all()}
    respond(pre, p["P05"], {"trust": "a", "grid.hiring": "low", "rank": "c", "age": "70"})
    with CaptureQueriesContext(connection) as more:
        summarise(pre, by="country")
    assert len(more) == len(few) <= 8


def test_an_unknown_grouping_is_a_value_error(pre: Survey) -> None:
    with pytest.raises(ValueError, match="Unknown variable 'height'"):
        summarise(pre, by="variable:height")


# --- Change between waves -------------------------------------------------------------------


@pytest.fixture
def waves(roster_study: Study) -> tuple[Survey, Survey]:
    """Trust before and after: P01 2 -> 4, P02 3 -> 3, P03 1 -> 3, P04 4 -> 3 (as option codes
    sd..sa); P05 answered before and only drafted after. Ages are the same in both waves."""
    before = build_pre(roster_study, "before")
    after = build_pre(roster_study, "after")
    after.wave_of = before
    after.save()
    p = {x.code: x for x in roster_study.participants.all()}
    scale = [code for code, _label in LIKERT]
    for code, b, a, grid_b, grid_a in [
        ("P01", 2, 4, "low", "high"),
        ("P02", 3, 3, "mid", "high"),
        ("P03", 1, 3, "low", "mid"),
        ("P04", 4, 3, "high", "mid"),
    ]:
        respond(before, p[code], {"trust": scale[b - 1], "age": "33", "grid.hiring": grid_b})
        respond(after, p[code], {"trust": scale[a - 1], "age": "33", "grid.hiring": grid_a})
    respond(before, p["P05"], {"trust": "sd", "age": "60"})
    respond(after, p["P05"], {"trust": "sa", "age": "61"}, submit=False)
    respond(after, None, {"trust": "sa"})
    return before, after


def test_wave_change_pairs_participants_and_matches_scipy(waves: tuple[Survey, Survey]) -> None:
    _before, after = waves
    changes = {(c.code, c.item): c for c in wave_change(after)}
    assert list(changes) == [("trust", ""), ("grid", "hiring"), ("grid", "medicine"), ("age", "")]
    trust = changes[("trust", "")].overall
    before_scores, after_scores = [2, 3, 1, 4], [4, 3, 3, 3]
    assert trust.n_pairs == 4
    assert trust.mean_before == pytest.approx(2.5) and trust.mean_after == pytest.approx(3.25)
    assert trust.mean_difference == pytest.approx(0.75)
    # Differences 2, 0, 2, -1: sorted -1, 0, 2, 2.
    assert trust.median_difference == pytest.approx(1.0)
    expected = stats.wilcoxon(after_scores, before_scores)
    assert trust.statistic == pytest.approx(float(expected.statistic))
    assert trust.p_value == pytest.approx(float(expected.pvalue))
    # Zeros dropped; |-1| ranks 1, the two 2s share ranks 2 and 3 (2.5 each): R+ = 5, R- = 1.
    assert trust.rank_biserial == pytest.approx((5 - 1) / 6)
    assert trust.reason == ""


def test_wave_change_per_matrix_row_and_group(waves: tuple[Survey, Survey]) -> None:
    _before, after = waves
    changes = {(c.code, c.item): c for c in wave_change(after, by="country")}
    grid = changes[("grid", "hiring")]
    # low=1, mid=2, high=3: P01 1 -> 3, P02 2 -> 3, P03 1 -> 2, P04 3 -> 2.
    expected = stats.wilcoxon([3, 3, 2, 2], [1, 2, 1, 3])
    assert grid.overall.n_pairs == 4
    assert grid.overall.p_value == pytest.approx(float(expected.pvalue))
    fi, gb = grid.groups
    assert (fi.group, fi.n_pairs, fi.mean_difference) == ("FI", 3, pytest.approx(4 / 3))
    assert fi.p_value == pytest.approx(float(stats.wilcoxon([3, 3, 2], [1, 2, 1]).pvalue))
    assert (gb.group, gb.n_pairs, gb.mean_difference, gb.rank_biserial) == ("GB", 1, -1.0, -1.0)
    medicine = changes[("grid", "medicine")]
    assert medicine.overall.n_pairs == 0 and medicine.overall.statistic is None
    assert medicine.overall.reason


def test_wave_change_without_any_difference_says_why(waves: tuple[Survey, Survey]) -> None:
    _before, after = waves
    age = {(c.code, c.item): c for c in wave_change(after)}[("age", "")].overall
    # Everyone is 33 in both waves; P05's second answer is a draft.
    assert (age.n_pairs, age.mean_difference) == (4, 0.0)
    assert (age.statistic, age.p_value, age.rank_biserial) == (None, None, None)
    assert "same score" in age.reason


def test_wave_change_needs_a_later_wave(waves: tuple[Survey, Survey]) -> None:
    before, _after = waves
    with pytest.raises(ResultsError, match="not a later wave"):
        wave_change(before)


# --- The page -------------------------------------------------------------------------------


def results_url(survey: Survey, query: str = "") -> str:
    return f"/studies/{survey.study.slug}/surveys/{survey.slug}/results/" + query


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize("person", ["victor", "bob", "alice"])
def test_every_member_sees_the_results(pre: Survey, people: dict[str, User], person: str) -> None:
    response = client_for(people[person]).get(results_url(pre))
    assert response.status_code == 200
    html = response.content.decode()
    assert "About trust?" in html and "Strongly agree" in html
    # n and missing of the multiple choice, and a share as text.
    assert "n = 2" in html and "2 missing" in html and "25%" in html
    # Individual answers are not shown to anyone here.
    assert "Because it decides about me." not in html


def test_outsiders_and_anonymous_visitors_are_refused(pre: Survey, people: dict[str, User]) -> None:
    assert client_for(people["mallory"]).get(results_url(pre)).status_code == 404
    response = Client().get(results_url(pre))
    assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_an_unknown_survey_is_not_found(pre: Survey, people: dict[str, User]) -> None:
    assert (
        client_for(people["victor"]).get(results_url(pre).replace("/pre/", "/nope/")).status_code
        == 404
    )


def test_the_page_groups_and_counts_drafts_when_asked(pre: Survey, people: dict[str, User]) -> None:
    client = client_for(people["victor"])
    html = client.get(results_url(pre, "?by=country")).content.decode()
    assert ">FI<" in html and ">GB<" in html
    drafts = client.get(results_url(pre, "?include_drafts=1")).content.decode()
    assert "5 respondents" in drafts
    assert "4 respondents" in client.get(results_url(pre)).content.decode()


def test_an_unknown_grouping_gets_a_message_not_an_error(
    pre: Survey, people: dict[str, User]
) -> None:
    response = client_for(people["victor"]).get(results_url(pre, "?by=variable:height"))
    assert response.status_code == 400
    assert "Unknown variable" in response.content.decode()
    assert "age band" in response.content.decode()


def test_a_survey_without_responses_says_what_to_do(
    roster_study: Study, people: dict[str, User]
) -> None:
    survey = build_pre(roster_study)
    html = client_for(people["alice"]).get(results_url(survey)).content.decode()
    assert "No responses yet" in html


def test_the_page_shows_the_change_between_waves(
    waves: tuple[Survey, Survey], people: dict[str, User]
) -> None:
    _before, after = waves
    html = client_for(people["bob"]).get(results_url(after)).content.decode()
    assert "Change between waves" in html
    expected = stats.wilcoxon([4, 3, 3, 3], [2, 3, 1, 4])
    assert f"{float(expected.pvalue):.3f}" in html


def test_a_likert_bar_puts_the_middle_point_across_the_middle_line() -> None:
    shares = [0.1, 0.2, 0.4, 0.2, 0.1]
    group = GroupResult(
        group="all",
        respondents=10,
        n=10,
        missing=0,
        options=[
            OptionCount(code, label, round(share * 10), share, score)
            for (code, label), share, score in zip(LIKERT, shares, range(1, 6), strict=True)
        ],
    )
    bar = likert_bar(group)
    # Each share is drawn at half its size: the disagreeing 30% and half the neutral 40% sit
    # left of the middle, so the bar starts at 50 - (30 + 20) / 2 = 25.
    assert [(s.left, s.width) for s in bar.segments] == [
        (25.0, 5.0),
        (30.0, 10.0),
        (40.0, 20.0),
        (60.0, 10.0),
        (70.0, 5.0),
    ]
    assert [s.tone for s in bar.segments] == ["n3", "n1", "mid", "p1", "p3"]
    assert [tone(position, 7) for position in range(7)] == [
        "n3",
        "n2",
        "n1",
        "mid",
        "p1",
        "p2",
        "p3",
    ]
    assert [tone(position, 4) for position in range(4)] == ["n3", "n1", "p1", "p3"]

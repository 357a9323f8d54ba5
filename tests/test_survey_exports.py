"""The survey tables of the exports app, the .sav and .dta files, and codes by survey answer.

Alice's study (conftest's roster: P01, P02, P03 in FI-1; P04, P05 in GB-1) has one transcript per
workshop, coded by Bob, and a pre-workshop survey written in English with German translations.
Who answered what (P03 left a draft, P05 never answered, someone answered through an anonymous
link):

    P01  trust=a   role=res  domains="hiring justice" + other "lending"  rank="neg acc exp"
         quality.hiring=high quality.medicine=low  age=34  born=1990-05-01  comment
    P02  trust=sd            domains="medicine"                           rank="acc exp neg"
         age=41.5
    P03  trust=a (a draft: not an answer)
    P04  trust=a                                    quality.hiring=mid
    anonymous: trust=n

The post-workshop survey is a later wave of it, answered by P01, P02 and P04.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import tempfile
import zipfile
from collections import defaultdict
from pathlib import Path

import pandas as pd
import pyreadstat
import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone
from scipy import stats

from coding.models import Code, Coding
from exports.base import ExportError, ExportRefused, variable_name
from exports.pack import build_pack
from exports.renderers import render
from exports.tables import EXPORTERS, build_table
from studies.models import Document, Participant, Study, Turn, Workshop
from surveys.models import Answer, Option, Question, Response, Survey, Translation
from tests.helpers import client_for

TRUST = [
    ("sd", "Strongly disagree"),
    ("d", "Disagree"),
    ("n", "Neither agree nor disagree"),
    ("a", "Agree"),
    ("sa", "Strongly agree"),
]
LONG_LABEL = "How much do you trust an algorithm to decide " + "about people " * 8 + "?"

FI_TURNS = [
    ("Facilitator", None, "Tell us about a decision that went wrong for you. "),
    ("Aino", "P01", "I wanted to argue with the bank about my loan. "),
    ("Eero", "P02", "The machine was accurate for me. "),
    ("Aino", "P01", "I would appeal again if they let me talk to someone. "),
]
GB_TURNS = [
    ("Amara", "P04", "I want to bargain with whoever decides. "),
    ("Callum", "P05", "It was accurate and fair enough. "),
]


def add_question(survey: Survey, code: str, kind: str, label: str, **kw: object) -> Question:
    return Question.objects.create(
        survey=survey, code=code, kind=kind, label=label, order=survey.questions.count(), **kw
    )


def add_options(question: Question, options: list[tuple[str, str]], role: str = "choice") -> None:
    for order, (code, label) in enumerate(options):
        Option.objects.create(question=question, role=role, code=code, label=label, order=order)


def respond(
    survey: Survey, participant: str | None, answers: dict[str, str], *, submitted: bool = True
) -> Response:
    response = Response.objects.create(
        survey=survey,
        participant=Participant.objects.get(study=survey.study, code=participant)
        if participant
        else None,
        language="en",
        submitted_at=timezone.make_aware(dt.datetime(2025, 3, 12, 10, 30)) if submitted else None,
    )
    for key, value in answers.items():
        code, _, item = key.partition(".")
        question = survey.questions.get(code=code)
        Answer.objects.create(response=response, question=question, item=item, value=value)
    return response


def instrument(study: Study, slug: str, title: str, **kw: object) -> Survey:
    survey = Survey.objects.create(study=study, slug=slug, title=title, languages="en,de", **kw)
    trust = add_question(survey, "trust", "likert5", LONG_LABEL, required=True)
    add_options(trust, TRUST)
    Translation.objects.create(question=trust, language="de", text="Vertrauen Sie ...?")
    role = add_question(survey, "role", "single", "Your role")
    add_options(role, [("res", "Researcher"), ("pub", "Member of the public")])
    domains = add_question(
        survey, "domains", "multiple", "Which domains matter?", allows_other=True
    )
    add_options(domains, [("hiring", "Hiring"), ("medicine", "Medicine"), ("justice", "Justice")])
    rank = add_question(survey, "rank", "ranking", "Rank the qualities")
    add_options(rank, [("acc", "Accuracy"), ("exp", "Explainability"), ("neg", "Negotiability")])
    quality = add_question(survey, "quality", "matrix", "How important is negotiability in")
    add_options(quality, [("low", "Low"), ("mid", "Medium"), ("high", "High")])
    add_options(quality, [("hiring", "hiring"), ("medicine", "medicine")], role="row")
    add_question(survey, "age", "number", "Your age", min_value=18, max_value=99)
    add_question(survey, "born", "date", "Your date of birth")
    add_question(survey, "comment", "long_text", "Anything else?")
    return survey


@pytest.fixture
def joined(roster_study: Study, people: dict[str, User]) -> dict:
    """The study with transcripts, Bob's codings and the two surveys described above."""
    return build_joined(roster_study, people)


def build_joined(study: Study, people: dict[str, User]) -> dict:
    concept = Code.objects.create(study=study, name="Concept", codable=False)
    negotiability = Code.objects.create(study=study, parent=concept, name="negotiability")
    accuracy = Code.objects.create(study=study, parent=concept, name="accuracy", order=1)
    documents = {}
    for workshop, turns in (("FI-1", FI_TURNS), ("GB-1", GB_TURNS)):
        text = "".join(words for _s, _p, words in turns)
        document = Document.objects.create(
            study=study,
            workshop=Workshop.objects.get(study=study, code=workshop),
            title=f"{workshop} transcript",
            text=text,
        )
        start = 0
        for seq, (speaker, code, words) in enumerate(turns):
            Turn.objects.create(
                document=document,
                seq=seq,
                speaker=speaker,
                participant=Participant.objects.get(study=study, code=code) if code else None,
                start=start,
                end=start + len(words),
            )
            start += len(words)
        documents[workshop] = document
    bob = people["bob"]

    def code(code: Code, workshop: str, words: str) -> None:
        text = documents[workshop].text
        start = text.index(words)
        Coding.objects.create(
            document=documents[workshop], code=code, coder=bob, start=start, end=start + len(words)
        )

    code(negotiability, "FI-1", "argue with the bank")  # P01
    code(negotiability, "FI-1", "appeal again")  # P01 again
    code(negotiability, "FI-1", "went wrong")  # the facilitator: nobody's words
    code(accuracy, "FI-1", "machine was accurate")  # P02
    code(negotiability, "FI-1", "loan. The machine")  # P01 and P02 at once
    code(negotiability, "GB-1", "bargain with whoever")  # P04
    code(accuracy, "GB-1", "accurate and fair")  # P05

    pre = instrument(study, "pre", "Before the workshop")
    respond(
        pre,
        "P01",
        {
            "trust": "a",
            "role": "res",
            "domains": "hiring justice",
            "domains._other": "lending",
            "rank": "neg acc exp",
            "quality.hiring": "high",
            "quality.medicine": "low",
            "age": "34",
            "born": "1990-05-01",
            "comment": "=I would argue",
        },
    )
    respond(
        pre, "P02", {"trust": "sd", "domains": "medicine", "rank": "acc exp neg", "age": "41.5"}
    )
    respond(pre, "P03", {"trust": "a"}, submitted=False)
    respond(pre, "P04", {"trust": "a", "quality.hiring": "mid"})
    respond(pre, None, {"trust": "n"})

    post = instrument(study, "post", "After the workshop", wave_of=pre)
    respond(post, "P01", {"trust": "sa", "age": "34"})
    respond(post, "P02", {"trust": "d", "age": "42"})
    respond(post, "P04", {"trust": "sa", "age": "30"})
    return {"study": study, "pre": pre, "post": post, "codes": [negotiability, accuracy]}


# --- The tables ---------------------------------------------------------------------------------


def test_responses_are_one_row_per_respondent_with_codes_as_stored(joined: dict) -> None:
    table = build_table(joined["study"], "survey_responses", survey="pre")
    wide = table.wide
    assert list(wide.columns) == [
        "participant",
        "workshop",
        "country",
        "status",
        "submitted_at",
        "language",
        "trust",
        "role",
        "domains",
        "domains_other",
        "rank",
        "quality.hiring",
        "quality.medicine",
        "age",
        "born",
        "comment",
    ]
    assert list(wide["participant"]) == ["P01", "P02", "P03", "P04", ""]
    assert list(wide["status"]) == ["submitted", "submitted", "draft", "submitted", "submitted"]
    first = wide.iloc[0].to_dict()
    assert first["workshop"] == "FI-1" and first["country"] == "FI"
    assert first["submitted_at"] == "2025-03-12T10:30:00+00:00"
    assert (first["trust"], first["domains"], first["domains_other"]) == (
        "a",
        "hiring justice",
        "lending",
    )
    assert (first["quality.hiring"], first["quality.medicine"], first["rank"]) == (
        "high",
        "low",
        "neg acc exp",
    )
    assert wide.iloc[1]["age"] == 41.5
    assert wide.iloc[2]["submitted_at"] == ""
    assert table.filename("csv") == "adm_survey_responses_pre.csv"

    # The csv is the same wide table, user text defused.
    _name, _type, content = render(table, "csv")
    rows = list(csv.DictReader(io.StringIO(content.decode("utf-8"))))
    assert rows[0]["participant"] == "P01" and rows[0]["comment"] == "'=I would argue"


def test_answers_are_long_with_labels_in_the_first_language(joined: dict) -> None:
    tidy = build_table(joined["study"], "survey_answers", survey="pre").tidy
    assert list(tidy.columns) == [
        "participant",
        "workshop",
        "country",
        "status",
        "question",
        "item",
        "value",
        "label",
    ]
    first = tidy[tidy["participant"] == "P01"]
    rows = {
        (q, i, v): label for q, i, v, label in first[["question", "item", "value", "label"]].values
    }
    assert rows[("trust", "", "a")] == "Agree"
    assert rows[("domains", "", "hiring")] == "Hiring"
    assert rows[("domains", "", "justice")] == "Justice"
    assert rows[("domains", "_other", "lending")] == ""
    assert rows[("rank", "1", "neg")] == "Negotiability"
    assert rows[("quality", "medicine", "low")] == "Low"
    assert rows[("age", "", "34")] == ""
    assert len(tidy[tidy["participant"] == "P03"]) == 1
    assert set(tidy[tidy["participant"] == ""]["value"]) == {"n"}


def test_the_codebook_is_the_instrument(joined: dict) -> None:
    wide = build_table(joined["study"], "survey_codebook", survey="pre").wide
    trust = wide[wide["question"] == "trust"].iloc[0]
    assert trust["kind"] == "likert5" and bool(trust["required"])
    assert trust["options"].startswith("sd=Strongly disagree; d=Disagree")
    assert trust["translations"] == "de"
    quality = wide[wide["question"] == "quality"].iloc[0]
    assert quality["rows"] == "hiring=hiring; medicine=medicine"
    assert quality["columns"] == "quality.hiring quality.medicine"
    assert wide[wide["question"] == "age"].iloc[0]["range"] == "18..99"
    assert list(wide["groups_codes"]) == [True, True, False, False, True, False, False, False]


# --- .sav and .dta ------------------------------------------------------------------------------


def read_back(content: bytes, fmt: str) -> tuple[pd.DataFrame, object]:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"file.{fmt}"
        path.write_bytes(content)
        reader = pyreadstat.read_sav if fmt == "sav" else pyreadstat.read_dta
        return reader(str(path))


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_responses_read_back_from_spss_and_stata_with_their_labels(joined: dict, fmt: str) -> None:
    table = build_table(joined["study"], "survey_responses", survey="pre")
    filename, _type, content = render(table, fmt)
    assert filename == f"adm_survey_responses_pre.{fmt}"
    frame, meta = read_back(content, fmt)
    labels = meta.column_names_to_labels
    assert list(frame.columns[:6]) == [
        "participant",
        "workshop",
        "country",
        "status",
        "submitted_at",
        "language",
    ]
    for name in frame.columns:
        assert re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,31}", name), name
    # Likert: 1..5 in option order, labelled with the options.
    assert meta.variable_value_labels["trust"] == {
        float(i): label for i, (_code, label) in enumerate(TRUST, start=1)
    }
    assert list(frame["trust"][:2]) == [4.0, 1.0]
    assert pd.isna(frame["trust"][4]) is False and frame["trust"][4] == 3.0
    assert labels["trust"] == LONG_LABEL[:80] if fmt == "dta" else LONG_LABEL
    # A matrix row: its own variable, labelled with the question and the row.
    assert frame["quality_hiring"][0] == 3.0 and frame["quality_hiring"][3] == 2.0
    assert pd.isna(frame["quality_hiring"][1])
    assert labels["quality_hiring"] == "How important is negotiability in: hiring"
    assert meta.variable_value_labels["quality_hiring"] == {1.0: "Low", 2.0: "Medium", 3.0: "High"}
    # A multiple choice: one 0/1 indicator per option, missing where nothing was answered.
    assert list(frame["domains_hiring"][:2]) == [1.0, 0.0]
    assert list(frame["domains_medicine"][:2]) == [0.0, 1.0]
    assert pd.isna(frame["domains_justice"][3])
    assert labels["domains_justice"] == "Which domains matter?: Justice"
    assert meta.variable_value_labels["domains_justice"] == {0.0: "not chosen", 1.0: "chosen"}
    assert frame["domains_other"][0] == "lending"
    # A ranking: each option's place.
    assert (frame["rank_neg"][0], frame["rank_acc"][0], frame["rank_exp"][0]) == (1, 2, 3)
    # Numbers as numbers, dates as dates, texts as text.
    assert list(frame["age"][:2]) == [34.0, 41.5]
    assert frame["born"][0] == dt.date(1990, 5, 1)
    assert frame["comment"][0] == "=I would argue"
    assert list(frame["status"]) == ["submitted", "submitted", "draft", "submitted", "submitted"]


def test_variable_names_are_valid_for_stata_and_unique() -> None:
    taken: set[str] = set()
    assert variable_name("trust", taken) == "trust"
    assert variable_name("Trust", taken) == "Trust_2"  # SPSS compares names without case
    assert variable_name("if", taken) == "if_"
    assert variable_name("2nd.row", taken) == "v2nd_row"
    assert variable_name("päätös_ähnlich", taken) == "paatos_ahnlich"
    long = variable_name("q" * 40, taken)
    assert long == "q" * 32
    assert variable_name("q" * 40, taken) == "q" * 30 + "_2"


def test_a_table_that_is_not_one_row_per_person_cannot_be_sav(joined: dict) -> None:
    crosstab = build_table(joined["study"], "crosstab", by="country")
    for fmt in ("sav", "dta"):
        with pytest.raises(ExportError, match=rf"The crosstab table cannot be written as \.{fmt}"):
            render(crosstab, fmt)
    # The roster can: one row per participant.
    frame, meta = read_back(render(build_table(joined["study"], "participants"), "sav")[2], "sav")
    assert list(frame["participant"]) == ["P01", "P02", "P03", "P04", "P05"]
    assert meta.column_names_to_labels["segments"].startswith("Coded segments")
    assert "trust" not in " ".join(frame.columns)  # no individual answers in the roster


# --- The survey option --------------------------------------------------------------------------


def test_a_survey_table_names_the_surveys_when_none_or_an_unknown_one_is_given(
    joined: dict,
) -> None:
    study = joined["study"]
    with pytest.raises(ExportError, match=r"Choose a survey .*: this study.s surveys are pre"):
        build_table(study, "survey_codebook")
    with pytest.raises(ExportError, match="Unknown survey 'prex': this study's surveys are pre"):
        build_table(study, "survey_responses", survey="prex")


# --- Codes by survey answer ---------------------------------------------------------------------


def independent_crosstab(study: Study, slug: str, code: str) -> dict:
    """Segments, participants and participant shares of each code by the answer to `code`,
    counted here from the raw Coding, Turn, Participant and Answer rows."""
    labels = {
        o.code: o.label
        for o in Option.objects.filter(question__survey__slug=slug, question__code=code)
    }
    answer = {}
    for a in Answer.objects.filter(
        response__survey__slug=slug,
        response__submitted_at__isnull=False,
        response__participant__isnull=False,
        question__code=code,
        item="",
    ).select_related("response__participant"):
        answer[a.response.participant.code] = labels[a.value]
    everyone = [p.code for p in Participant.objects.filter(study=study)]
    group_of = {p: answer.get(p, "(missing)") for p in everyone}
    sizes: dict[str, int] = defaultdict(int)
    for p in everyone:
        sizes[group_of[p]] += 1
    segments: dict[tuple[str, str], set[int]] = defaultdict(set)
    people: dict[tuple[str, str], set[str]] = defaultdict(set)
    turns = list(Turn.objects.filter(participant__isnull=False).select_related("participant"))
    for coding in Coding.objects.select_related("code"):
        for turn in turns:
            if turn.document_id == coding.document_id and (
                turn.start < coding.end and coding.start < turn.end
            ):
                key = (coding.code.name, group_of[turn.participant.code])
                segments[key].add(coding.pk)
                people[key].add(turn.participant.code)
    return {"segments": segments, "people": people, "sizes": sizes}


@pytest.mark.parametrize("measure", ["segments", "participants", "participant_share"])
def test_a_crosstab_by_a_survey_answer_equals_a_count_from_the_raw_rows(
    joined: dict, measure: str
) -> None:
    study = joined["study"]
    expected = independent_crosstab(study, "pre", "trust")
    table = build_table(study, "crosstab", by="survey:pre/trust", measure=measure)
    groups = [label for _c, label in TRUST] + ["(missing)"]
    assert list(table.tidy["group"].unique()) == groups
    for code in ("negotiability", "accuracy"):
        for group in groups:
            row = table.tidy[
                (table.tidy["code_path"] == f"Concept/{code}") & (table.tidy["group"] == group)
            ]
            assert len(row) == 1
            key = (code, group)
            if measure == "segments":
                want = len(expected["segments"][key])
            elif measure == "participants":
                want = len(expected["people"][key])
            else:
                size = expected["sizes"].get(group, 0)
                want = len(expected["people"][key]) / size if size else 0.0
            assert row.iloc[0]["value"] == pytest.approx(want), (code, group)
    # P01 and P04 agreed: both in "Agree" (the draft of P03 is no answer, so P03 is missing).
    assert expected["sizes"]["Agree"] == 2 and expected["sizes"]["(missing)"] == 2
    assert table.meta["by"] == "survey:pre/trust"


def test_a_matrix_row_groups_and_other_questions_are_refused_by_name(joined: dict) -> None:
    study = joined["study"]
    table = build_table(study, "crosstab", by="survey:pre/quality/hiring", measure="participants")
    assert list(table.tidy["group"].unique()) == ["Low", "Medium", "High", "(missing)"]
    high = table.tidy[(table.tidy["group"] == "High")]
    assert dict(zip(high["code_path"], high["value"], strict=True)) == {
        "Concept/negotiability": 1,  # P01
        "Concept/accuracy": 0,
    }
    for by, message in [
        ("survey:pre/comment", r"'comment' \(long text\) cannot group participants"),
        ("survey:pre/domains", r"'domains' \(multiple choice\) cannot group participants"),
        ("survey:pre/age", r"'age' \(number\) cannot group"),
        ("survey:pre/quality", "groups by one of its rows.*its rows are hiring, medicine"),
        ("survey:pre/trust/x", "'trust' is not a matrix"),
        ("survey:pre/nope", "Unknown question 'nope' in the survey 'pre'"),
        ("survey:gone/trust", "Unknown survey 'gone'"),
    ]:
        with pytest.raises(ExportError, match=message):
            build_table(study, "crosstab", by=by)


def test_quotes_by_a_survey_answer_are_for_owners_only(joined: dict, people: dict) -> None:
    study = joined["study"]
    assert len(build_table(study, "quotes", by="survey:pre/trust", user=people["alice"]).tidy)
    with pytest.raises(ExportRefused, match="only the study's owners"):
        build_table(study, "quotes", by="survey:pre/trust", user=people["victor"])


# --- Results and change ---------------------------------------------------------------------


def test_results_count_submitted_answers_with_shares_and_figures(joined: dict) -> None:
    table = build_table(joined["study"], "survey_results", survey="pre")
    tidy = table.tidy
    trust = tidy[tidy["question"] == "trust"].set_index("option")
    # Submitted: P01, P02, P04 and the anonymous one; P03's draft is not counted.
    assert trust.loc["a", "count"] == 2 and trust.loc["a", "n"] == 4
    assert trust.loc["a", "share"] == pytest.approx(0.5)
    assert trust.loc["a", "mean"] == pytest.approx((4 + 1 + 4 + 3) / 4)
    ranks = tidy[tidy["question"] == "rank"].set_index("option")["mean_rank"]
    assert ranks["acc"] == pytest.approx(1.5) and ranks["neg"] == pytest.approx(2.0)
    assert table.figure_kinds == ["diverging", "matrix", "ranks"]
    for kind in table.figure_kinds:
        _name, _type, content = render(table, "png", kind=kind)
        assert content.startswith(b"\x89PNG"), kind
    by_country = build_table(joined["study"], "survey_results", survey="pre", by="country")
    assert {"FI", "GB"} <= set(by_country.tidy["group"])
    with pytest.raises(ExportError, match="cannot be grouped by 'survey:pre/trust'"):
        build_table(joined["study"], "survey_results", survey="pre", by="survey:pre/trust")


def test_change_between_waves_is_scipys_wilcoxon(joined: dict) -> None:
    table = build_table(joined["study"], "survey_change", survey="post")
    trust = table.tidy[table.tidy["question"] == "trust"].iloc[0]
    before, after = [4, 1, 4], [5, 2, 5]  # P01, P02, P04 by position in the scale
    test = stats.wilcoxon(after, before)
    assert trust["n_pairs"] == 3
    assert trust["statistic"] == pytest.approx(test.statistic)
    assert trust["p_value"] == pytest.approx(test.pvalue)
    assert trust["mean_difference"] == pytest.approx(1.0)
    with pytest.raises(ExportError, match="not a later wave"):
        build_table(joined["study"], "survey_change", survey="pre")


# --- Who may export what, and where -------------------------------------------------------------


def api(name: str, fmt: str | None = None) -> str:
    return f"/api/v1/studies/adm/exports/{name}" + (f".{fmt}" if fmt else "/")


def test_individual_responses_are_for_owners_and_results_for_every_member(
    joined: dict, people: dict
) -> None:
    alice, victor = client_for(people["alice"]), client_for(people["victor"])
    owner = alice.get(api("survey_responses"), {"survey": "pre"})
    assert owner.status_code == 200
    assert owner.json()["columns"][:2] == ["participant", "workshop"]
    assert victor.get(api("survey_responses"), {"survey": "pre"}).status_code == 403
    assert victor.get(api("survey_answers", "csv"), {"survey": "pre"}).status_code == 403
    assert victor.get(api("survey_results"), {"survey": "pre"}).status_code == 200
    missing = victor.get(api("survey_codebook"))
    assert missing.status_code == 400
    assert "this study's surveys are pre, post" in missing.json()["detail"]

    sav = alice.get(api("survey_responses", "sav"), {"survey": "pre"})
    assert sav.status_code == 200
    assert read_back(sav.content, "sav")[0]["trust"][0] == 4.0
    refused = alice.get(api("crosstab", "dta"))
    assert refused.status_code == 400
    assert "cannot be written as .dta" in refused.json()["detail"]

    # The page: the survey list, the answers as groupings, and the labelled downloads.
    page = alice.get(
        reverse("exports:page", args=["adm"]), {"table": "survey_responses", "survey": "pre"}
    )
    html = page.content.decode()
    assert 'id="exp-survey"' in html and ">After the workshop</option>" in html
    assert 'value="survey:pre/trust"' in html
    assert 'value="survey:pre/quality/hiring"' in html
    assert 'value="survey:pre/domains"' not in html
    assert "SPSS (.sav, labelled)" in html
    viewer_page = victor.get(
        reverse("exports:page", args=["adm"]), {"table": "survey_responses", "survey": "pre"}
    )
    assert (
        "only the study&#x27;s owners see individual survey responses"
        in viewer_page.content.decode()
    )
    download = victor.get(
        reverse("exports:download", args=["adm", "csv"]),
        {"table": "survey_responses", "survey": "pre"},
    )
    assert download.status_code == 403


def test_the_command_writes_a_sav_and_refuses_bad_input(joined: dict, tmp_path: Path) -> None:
    out = tmp_path / "out.sav"
    call_command(
        "export", "--study", "adm", "--table", "survey_responses", "--survey", "pre",
        "--format", "sav", "-o", str(out), stdout=io.StringIO(),
    )  # fmt: skip
    frame, meta = read_back(out.read_bytes(), "sav")
    assert list(frame["participant"]) == ["P01", "P02", "P03", "P04", ""]
    assert meta.variable_value_labels["role"] == {1.0: "Researcher", 2.0: "Member of the public"}
    with pytest.raises(CommandError, match="Unknown survey 'nope'"):
        call_command(
            "export", "--study", "adm", "--table", "survey_responses", "--survey", "nope",
            "--format", "csv", "-o", str(tmp_path / "x.csv"),
        )  # fmt: skip
    with pytest.raises(CommandError, match="cannot group participants"):
        call_command(
            "export", "--study", "adm", "--table", "crosstab", "--by", "survey:pre/comment",
            "--format", "csv", "-o", str(tmp_path / "x.csv"),
        )  # fmt: skip
    assert not (tmp_path / "x.csv").exists()


def test_the_pack_holds_each_survey_and_leaves_responses_out_for_a_viewer(
    joined: dict, people: dict
) -> None:
    study = joined["study"]
    names = zipfile.ZipFile(io.BytesIO(build_pack(study, user=people["alice"]))).namelist()
    for expected in (
        "surveys/adm_survey_responses_pre.csv",
        "surveys/adm_survey_responses_pre.xlsx",
        "surveys/adm_survey_responses_pre.sav",
        "surveys/adm_survey_responses_pre.dta",
        "surveys/adm_survey_answers_pre.csv",
        "surveys/adm_survey_codebook_pre.xlsx",
        "surveys/adm_survey_results_pre.csv",
        "surveys/adm_survey_change_post.csv",
        "figures/adm_survey_results_pre.png",
        "figures/adm_survey_results_pre_matrix.svg",
        "figures/adm_survey_results_pre_ranks.pdf",
        "tables/adm_crosstab_survey-pre-trust_participant_share.csv",
        "tables/adm_crosstab_survey-post-role_participant_share.csv",
    ):
        assert expected in names, expected
    assert "surveys/adm_survey_change_pre.csv" not in names
    assert not [n for n in names if "survey-pre-quality" in n]  # matrix rows: on request
    archive = zipfile.ZipFile(io.BytesIO(build_pack(study, user=people["victor"])))
    assert not [n for n in archive.namelist() if "survey_responses" in n or "survey_answers" in n]
    assert "surveys/adm_survey_results_pre.csv" in archive.namelist()
    readme = archive.read("README.md").decode()
    assert "survey_responses of pre: Survey responses" in readme


def test_every_survey_table_is_in_the_registry(joined: dict) -> None:
    for name in ("survey_responses", "survey_answers", "survey_codebook", "survey_results"):
        assert EXPORTERS[name].reads("survey") and not EXPORTERS[name].reads_codings


@pytest.mark.parametrize("fmt", ["sav", "dta"])
def test_a_survey_nobody_answered_still_makes_an_empty_labelled_file(
    roster_study: Study, fmt: str
) -> None:
    instrument(roster_study, "empty", "Nobody answered yet")
    table = build_table(roster_study, "survey_responses", survey="empty")
    frame, meta = read_back(render(table, fmt)[2], fmt)
    assert len(frame) == 0
    assert "trust" in frame.columns and "domains_justice" in frame.columns
    assert meta.variable_value_labels["trust"][1.0] == "Strongly disagree"

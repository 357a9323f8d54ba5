"""The export tables against counts made again here, plainly, from the raw Coding and Turn rows.

The small study: workshop FI-1 with P01, P02 and P03 (P03 never speaks) and GB-1 with P04 and
P05 (no transcript). One FI-1 transcript: a facilitator, then Aino (P01), Eero (P02), Aino again.
"""

from __future__ import annotations

import hashlib
import itertools
from collections import defaultdict

import pytest
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext
from scipy import stats

from coding.models import Code, Coding
from coding.reliability import compute_reliability
from exports.base import ExportError
from exports.frame import analysis_frame, data_checksum, participant_frame, roster_frame
from exports.renderers import render
from exports.stats import significance_note
from exports.tables import TABLES, build_table
from studies.models import Document, Participant, ParticipantValue, Study, Turn, Workshop
from studies.nlp import count_words
from tests.test_exporters import demo_wave

TURNS = [
    ("Facilitator", None, "Tell us about a decision that went wrong for you. "),
    ("Aino", "P01", "I wanted to argue with the bank about my loan and explain my situation. "),
    ("Eero", "P02", "The machine was accurate for me, it never made a mistake. "),
    ("Aino", "P01", "I would appeal again tomorrow if they let me talk to someone. "),
]


def spans() -> tuple[str, list[tuple[int, int]]]:
    text, bounds = "", []
    for _speaker, _code, words in TURNS:
        bounds.append((len(text), len(text) + len(words)))
        text += words
    return text, bounds


@pytest.fixture
def small(roster_study: Study, people: dict[str, User]) -> dict:
    """The small study with its codebook, transcript and Bob's codings."""
    study = roster_study
    concept = Code.objects.create(study=study, name="Concept", codable=False)
    domain = Code.objects.create(study=study, name="Domain", codable=False, order=1)
    codes = {
        "negotiability": Code.objects.create(study=study, parent=concept, name="negotiability"),
        "accuracy": Code.objects.create(study=study, parent=concept, name="accuracy", order=1),
        "hiring": Code.objects.create(study=study, parent=domain, name="hiring"),
    }
    text, bounds = spans()
    document = Document.objects.create(
        study=study,
        workshop=Workshop.objects.get(study=study, code="FI-1"),
        title="FI-1 transcript",
        text=text,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
    )
    for seq, ((speaker, code, _words), (start, end)) in enumerate(zip(TURNS, bounds, strict=True)):
        participant = Participant.objects.get(study=study, code=code) if code else None
        Turn.objects.create(
            document=document,
            seq=seq,
            speaker=speaker,
            participant=participant,
            start=start,
            end=end,
        )
    bob = people["bob"]
    argue = text.index("argue")
    bank = text.index("the bank")
    loan = text.index("loan") + len("loan")

    def code(name: str, start: int, end: int, coder: User = bob, **kw: object) -> Coding:
        return Coding.objects.create(
            document=document, code=codes[name], coder=coder, start=start, end=end, **kw
        )

    code("negotiability", *bounds[1])  # Aino's first turn
    code("negotiability", *bounds[3])  # Aino again: she counts once
    code("negotiability", *bounds[0])  # the facilitator: nobody's words
    code("accuracy", *bounds[2])  # Eero
    code("hiring", bank, loan)  # inside Aino's first turn: overlaps negotiability
    return {
        "study": study,
        "document": document,
        "codes": codes,
        "bounds": bounds,
        "text": text,
        "code": code,
        "argue": argue,
        "overlap": (bank, loan),
    }


def wide_row(table, path: str) -> dict:
    rows = table.wide[table.wide["code_path"] == path]
    assert len(rows) == 1, f"{path} is not one row of {list(table.wide['code_path'])}"
    return rows.iloc[0].to_dict()


def tidy_value(table, path: str, group: str) -> float:
    rows = table.tidy[(table.tidy["code_path"] == path) & (table.tidy["group"] == group)]
    assert len(rows) == 1
    return rows.iloc[0]["value"]


# --- The frame ------------------------------------------------------------------------------


def test_the_frame_attributes_codings_to_the_participants_whose_turns_they_overlap(
    small: dict,
) -> None:
    frame = analysis_frame(small["study"])
    assert frame.attrs["layer"] == "all"
    by_start = {(row.code, row.start): row for row in frame.itertuples()}
    _facilitator, first, eero, _second = small["bounds"]
    assert by_start[("negotiability", first[0])].participants == ["P01"]
    assert by_start[("negotiability", 0)].participants == []
    assert by_start[("accuracy", eero[0])].participants == ["P02"]
    hiring = by_start[("hiring", small["overlap"][0])]
    assert hiring.participants == ["P01"]
    assert hiring.country == "FI"
    assert hiring.workshop == "FI-1"
    assert hiring.code_path == "Domain/hiring"
    assert hiring.dimension == "Domain"
    assert hiring.words == count_words(small["text"][slice(*small["overlap"])]) == 5


def test_a_coding_ending_where_a_turn_starts_does_not_touch_it(small: dict) -> None:
    _facilitator, aino, _eero, _again = small["bounds"]
    small["code"]("accuracy", aino[0] - 5, aino[0])  # the facilitator's last characters
    frame = analysis_frame(small["study"])
    row = frame[(frame["code"] == "accuracy") & (frame["end"] == aino[0])].iloc[0]
    assert row["participants"] == []


def test_the_participant_frame_has_one_row_per_coding_and_participant_with_variables(
    small: dict,
) -> None:
    exploded = participant_frame(small["study"])
    # 5 codings; the facilitator's has no participant.
    assert len(exploded) == 4
    assert set(exploded["participant"]) == {"P01", "P02"}
    assert set(exploded.loc[exploded["participant"] == "P01", "var:gender"]) == {"woman"}


def test_the_roster_lists_silent_participants_too(small: dict) -> None:
    roster = roster_frame(small["study"])
    assert list(roster["participant"]) == ["P01", "P02", "P03", "P04", "P05"]
    assert list(roster["country"]) == ["FI", "FI", "FI", "GB", "GB"]
    assert roster.loc[roster["participant"] == "P05", "var:age band"].item() == "60+"


def test_the_checksum_changes_with_the_codings_and_not_with_their_order(small: dict) -> None:
    frame = analysis_frame(small["study"])
    assert data_checksum(frame) == data_checksum(frame.iloc[::-1])
    small["code"]("accuracy", 0, 4)
    assert data_checksum(analysis_frame(small["study"])) != data_checksum(frame)


# --- Layers ---------------------------------------------------------------------------------


def test_layer_all_counts_a_span_two_coders_applied_once(small: dict, people: dict) -> None:
    aino = small["bounds"][1]
    small["code"]("negotiability", *aino, coder=people["alice"])
    frame = analysis_frame(small["study"], layer="all")
    same = frame[(frame["code"] == "negotiability") & (frame["start"] == aino[0])]
    assert len(same) == 1
    assert same.iloc[0]["coder"] == "alice, bob"
    table = build_table(small["study"], "frequencies", layer="all")
    assert wide_row(table, "Concept/negotiability")["segments"] == 3


def test_a_username_layer_has_only_that_coders_codings(small: dict, people: dict) -> None:
    small["code"]("accuracy", 0, 10, coder=people["alice"])
    assert len(analysis_frame(small["study"], layer="alice")) == 1
    assert len(analysis_frame(small["study"], layer="bob")) == 5
    table = build_table(small["study"], "frequencies", layer="alice")
    assert table.meta["layer"] == "alice"
    assert wide_row(table, "Concept/accuracy")["segments"] == 1


def test_the_consensus_layer_is_the_default_once_it_exists(small: dict, people: dict) -> None:
    small["code"]("accuracy", *small["bounds"][2], coder=people["alice"], consensus=True)
    frame = analysis_frame(small["study"])
    assert frame.attrs["layer"] == "consensus"
    assert list(frame["code"]) == ["accuracy"]
    table = build_table(small["study"], "frequencies")
    assert table.meta["layer"] == "consensus"
    assert wide_row(table, "Concept/negotiability")["segments"] == 0


def test_an_unknown_layer_is_refused_by_name(small: dict) -> None:
    with pytest.raises(ExportError, match="Unknown layer 'nobody'"):
        build_table(small["study"], "frequencies", layer="nobody")


def test_a_blind_coder_exports_only_their_own_codings(small: dict, people: dict) -> None:
    study = small["study"]
    study.blind_coding = True
    study.save()
    table = build_table(study, "frequencies", user=people["bob"])
    assert table.meta["layer"] == "bob"
    with pytest.raises(ExportError, match="only their own codings"):
        build_table(study, "frequencies", layer="all", user=people["bob"])


# --- Frequencies and crosstabs on the small study -------------------------------------------


def test_frequencies_count_a_participant_coded_in_two_turns_once(small: dict) -> None:
    table = build_table(small["study"], "frequencies")
    row = wide_row(table, "Concept/negotiability")
    assert row["segments"] == 3
    assert row["participants"] == 1
    assert row["documents"] == 1
    assert row["participant_share"] == pytest.approx(1 / 5)
    assert "participant_share" in table.percent_columns
    total = wide_row(table, "Total")
    assert total["segments"] == 5
    assert total["participants"] == 2


def test_rollup_counts_a_parents_distinct_codings(small: dict) -> None:
    table = build_table(small["study"], "frequencies", rollup=True)
    concept = wide_row(table, "Concept")
    assert concept["segments"] == 4  # 3 negotiability + 1 accuracy
    assert concept["participants"] == 2
    assert wide_row(table, "Domain")["segments"] == 1


def test_participant_share_counts_silent_roster_participants(small: dict) -> None:
    table = build_table(small["study"], "crosstab", by="country", measure="participant_share")
    # FI has three participants in the roster; P03 never speaks.
    assert tidy_value(table, "Concept/negotiability", "FI") == pytest.approx(1 / 3)
    assert wide_row(table, "Total")["FI"] == pytest.approx(2 / 3)
    assert wide_row(table, "Total")["Total"] == pytest.approx(2 / 5)
    share = table.tidy[
        (table.tidy["code_path"] == "Concept/accuracy") & (table.tidy["group"] == "FI")
    ]
    assert share["denominator"].item() == 3
    assert "FI" in table.percent_columns


def test_a_share_says_of_how_many_in_its_headers_and_figure_labels(small: dict) -> None:
    table = build_table(small["study"], "crosstab", by="country", measure="participant_share")
    # FI has three participants in the roster and GB two: a third of FI is one person.
    markdown = render(table, "md")[2].decode()
    assert "| Code | FI (n=3) | GB (n=2) | Total (n=5) |" in markdown
    assert "33.3%" in markdown  # the shares are still shown as percentages
    html = render(table, "html")[2].decode()
    assert '<th scope="col">Code</th>' in html and ">FI (n=3)</th>" in html
    svg = render(table, "svg")[2].decode()
    assert "FI (n=3)" in svg and "GB (n=2)" in svg
    # The tidy form is for machines: code_path and the denominator as a column of its own.
    assert {"code_path", "group", "value", "denominator"} <= set(table.tidy.columns)
    assert set(table.tidy["group"]) == {"FI", "GB"}
    # Counts have no denominator, so their groups are shown by name alone.
    counts = build_table(small["study"], "crosstab", by="country", measure="segments")
    assert "| Code | FI | GB | Total |" in render(counts, "md")[2].decode()


def test_the_tidy_crosstab_has_every_code_and_group_with_zeros(small: dict) -> None:
    table = build_table(small["study"], "crosstab", by="country", measure="segments")
    assert set(table.tidy.columns) >= {"code_path", "group", "measure", "value"}
    assert len(table.tidy) == 3 * 2  # three codable codes, FI and GB
    assert tidy_value(table, "Concept/negotiability", "GB") == 0
    assert tidy_value(table, "Concept/negotiability", "FI") == 3
    assert set(table.tidy["measure"]) == {"segments"}


def test_crosstab_by_variable_groups_by_the_speakers_value(small: dict) -> None:
    table = build_table(small["study"], "crosstab", by="variable:gender", measure="participants")
    assert tidy_value(table, "Concept/negotiability", "woman") == 1
    assert tidy_value(table, "Concept/accuracy", "man") == 1
    assert tidy_value(table, "Concept/accuracy", "woman") == 0


def test_crosstab_by_workshop_and_document(small: dict) -> None:
    by_workshop = build_table(small["study"], "crosstab", by="workshop", measure="documents")
    assert tidy_value(by_workshop, "Concept/negotiability", "FI-1") == 1
    assert tidy_value(by_workshop, "Concept/negotiability", "GB-1") == 0
    by_document = build_table(
        small["study"], "crosstab", by="document", measure="participant_share"
    )
    # The document's denominator is its workshop's roster: FI-1's three participants.
    assert tidy_value(by_document, "Concept/accuracy", "FI-1 transcript") == pytest.approx(1 / 3)


def test_crosstab_by_dimension_counts_overlapping_codings(small: dict) -> None:
    segments = build_table(small["study"], "crosstab", by="dimension:Domain", measure="segments")
    assert list(segments.tidy["code_path"].unique()) == [
        "Concept/negotiability",
        "Concept/accuracy",
    ]
    assert tidy_value(segments, "Concept/negotiability", "hiring") == 1
    assert tidy_value(segments, "Concept/accuracy", "hiring") == 0
    words = build_table(small["study"], "crosstab", by="dimension:domain", measure="words")
    assert tidy_value(words, "Concept/negotiability", "hiring") == 5
    people = build_table(small["study"], "crosstab", by="dimension:Domain", measure="participants")
    assert tidy_value(people, "Concept/negotiability", "hiring") == 1


def test_unknown_group_variable_measure_and_table_are_refused_with_a_message(
    small: dict,
) -> None:
    study = small["study"]
    with pytest.raises(ExportError, match="Unknown group 'city'"):
        build_table(study, "crosstab", by="city")
    with pytest.raises(ExportError, match=r"Unknown variable 'income'.*age band, gender"):
        build_table(study, "crosstab", by="variable:income")
    with pytest.raises(ExportError, match="Unknown dimension 'Concept/negotiability'"):
        build_table(study, "crosstab", by="dimension:Concept/negotiability")
    with pytest.raises(ExportError, match="Unknown measure 'minutes'"):
        build_table(study, "crosstab", by="country", measure="minutes")
    with pytest.raises(ExportError, match="Unknown table 'pie'"):
        build_table(study, "pie")
    with pytest.raises(ExportError, match=r"Unknown measure 'participants'.*jaccard"):
        build_table(study, "cooccurrence", measure="participants")


# --- Significance ---------------------------------------------------------------------------


def test_the_chi_square_sentence_matches_the_formula() -> None:
    observed = [[30, 10, 20], [15, 25, 20]]
    rows = [sum(r) for r in observed]
    columns = [sum(c) for c in zip(*observed, strict=True)]
    n = sum(rows)
    chi2 = sum(
        (observed[i][j] - rows[i] * columns[j] / n) ** 2 / (rows[i] * columns[j] / n)
        for i in range(2)
        for j in range(3)
    )
    p = stats.chi2.sf(chi2, 2)
    assert significance_note(observed) == (
        f"Chi-square test of independence: χ²(2) = {chi2:.2f}, p = {p:.3f} (n = {n})."
    )


def test_a_small_two_by_two_table_gets_fishers_exact_test() -> None:
    note = significance_note([[1, 9], [8, 2]])
    _odds, p = stats.fisher_exact([[1, 9], [8, 2]])
    assert note.startswith("Fisher's exact test")
    assert f"p = {p:.3f}" in note
    assert "(n = 20)" in note


def test_a_sparse_table_says_neither_test_is_valid(small: dict) -> None:
    table = build_table(small["study"], "crosstab", by="variable:gender", measure="segments")
    assert any(
        note.startswith("Chi-square not reported:") and "not 2 x 2" in note for note in table.notes
    )
    assert significance_note([[1, 2, 3], [0, 1, 2]]) == (
        "Chi-square not reported: 6 of 6 expected counts are below 5, and the table is not "
        "2 x 2 for Fisher's exact test."
    )


# --- Co-occurrence, quotes and the appendix tables on the small study -----------------------


def test_cooccurrence_counts_each_overlapping_pair_once(small: dict) -> None:
    table = build_table(small["study"], "cooccurrence")
    assert tidy_value(table, "Concept/negotiability", "Domain/hiring") == 1
    assert tidy_value(table, "Domain/hiring", "Concept/negotiability") == 1
    assert tidy_value(table, "Concept/negotiability", "Concept/negotiability") == 3
    assert tidy_value(table, "Concept/accuracy", "Domain/hiring") == 0
    jaccard = build_table(small["study"], "cooccurrence", measure="jaccard")
    assert tidy_value(jaccard, "Concept/negotiability", "Domain/hiring") == pytest.approx(
        1 / (3 + 1 - 1)
    )


def test_quotes_carry_text_and_citation(small: dict) -> None:
    table = build_table(small["study"], "quotes", top=2)
    quotes = table.tidy[table.tidy["code_path"] == "Concept/negotiability"]
    assert len(quotes) == 2
    text = small["text"]
    for quote in quotes.itertuples():
        assert text[quote.start : quote.end] == quote.text
    # All three are 10-60 words; Aino's first turn is closest to 30 words, and the spread
    # across participants puts an excerpt not by Aino second: the facilitator's.
    assert list(quotes["cite"]) == ["P01, FI-1", "FI-1"]


def test_quotes_by_country(small: dict) -> None:
    table = build_table(small["study"], "quotes", by="country")
    assert set(table.tidy["group"]) == {"FI"}
    assert (table.tidy["country"] == "FI").all()


def test_the_codebook_table_has_definitions_and_counts(small: dict) -> None:
    Code.objects.filter(name="accuracy").update(definition="Correct decisions.")
    table = build_table(small["study"], "codebook")
    accuracy = wide_row(table, "Concept/accuracy")
    assert accuracy["definition"] == "Correct decisions."
    assert (accuracy["segments"], accuracy["participants"], accuracy["documents"]) == (1, 1, 1)
    assert wide_row(table, "Concept")["segments"] == 4


def test_reliability_needs_two_coders(small: dict) -> None:
    with pytest.raises(ExportError, match="two or more coders; found: bob"):
        build_table(small["study"], "reliability")


def test_the_participants_table_counts_each_participants_segments(small: dict) -> None:
    table = build_table(small["study"], "participants")
    segments = dict(zip(table.tidy["participant"], table.tidy["segments"], strict=True))
    assert segments == {"P01": 3, "P02": 1, "P03": 0, "P04": 0, "P05": 0}
    assert "gender" in table.wide.columns


def test_demographics_counts_by_value_and_country(small: dict) -> None:
    table = build_table(small["study"], "demographics")
    tidy = table.tidy
    woman_fi = tidy[
        (tidy["variable"] == "gender") & (tidy["category"] == "woman") & (tidy["group"] == "FI")
    ]
    assert woman_fi.loc[woman_fi["measure"] == "participants", "value"].item() == 2
    assert woman_fi.loc[woman_fi["measure"] == "participant_share", "value"].item() == (
        pytest.approx(2 / 3)
    )
    assert "Total %" in table.percent_columns


def test_meta_describes_the_table(small: dict) -> None:
    table = build_table(small["study"], "crosstab", by="country", measure="participants")
    meta = table.meta
    assert meta["study"] == "adm"
    assert (meta["table"], meta["by"], meta["measure"], meta["layer"]) == (
        "crosstab",
        "country",
        "participants",
        "all",
    )
    assert meta["checksum"] == data_checksum(analysis_frame(small["study"]))
    assert meta["version"]
    assert meta["generated_at"][:4].isdigit()
    assert table.filename("csv") == "adm_crosstab_country_participants.csv"


# --- A fixed number of queries --------------------------------------------------------------


def grow(study: Study, coder: User, documents: int) -> None:
    """Add documents with participant turns and codings, in bulk."""
    workshop = Workshop.objects.get(study=study, code="FI-1")
    participants = list(Participant.objects.filter(study=study, workshop=workshop))
    codes = list(Code.objects.filter(study=study, codable=True))
    start = Document.objects.filter(study=study).count()
    for number in range(start, start + documents):
        text = "A sentence of words here. " * 20
        document = Document.objects.create(
            study=study, workshop=workshop, title=f"doc {number}", text=text, sha256=str(number)
        )
        Turn.objects.bulk_create(
            Turn(
                document=document,
                seq=k,
                speaker=participants[k % len(participants)].code,
                participant=participants[k % len(participants)],
                start=k * 26,
                end=(k + 1) * 26,
            )
            for k in range(20)
        )
        Coding.objects.bulk_create(
            Coding(
                document=document,
                code=codes[k % len(codes)],
                coder=coder,
                start=k * 26,
                end=k * 26 + 40,
            )
            for k in range(19)
        )


def test_the_frame_takes_the_same_number_of_queries_at_ten_times_the_size(
    small: dict, people: dict
) -> None:
    study = small["study"]
    grow(study, people["bob"], 2)
    with CaptureQueriesContext(connection) as few:
        small_frame = analysis_frame(study)
    grow(study, people["bob"], 20)
    with CaptureQueriesContext(connection) as many:
        large_frame = analysis_frame(study)
    assert len(large_frame) > 9 * len(small_frame) - 50
    assert len(few) == len(many)
    with CaptureQueriesContext(connection) as table_queries:
        build_table(study, "crosstab", by="variable:gender", measure="participant_share")
    grow(study, people["bob"], 20)
    with CaptureQueriesContext(connection) as more_table_queries:
        build_table(study, "crosstab", by="variable:gender", measure="participant_share")
    assert len(table_queries) == len(more_table_queries)


# --- The demo study, counted again from the raw rows ----------------------------------------


def raw_layer(study: Study) -> dict[tuple[int, int, int, int], set[str]]:
    """Layer "all" by hand: every distinct (document, code, start, end) of the coders."""
    spans: dict[tuple[int, int, int, int], set[str]] = defaultdict(set)
    for coding in Coding.objects.filter(document__study=study, consensus=False).select_related(
        "coder"
    ):
        spans[(coding.document_id, coding.code_id, coding.start, coding.end)].add(
            coding.coder.username
        )
    return spans


def speakers(study: Study) -> dict[int, list[tuple[int, int, str]]]:
    turns: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for turn in Turn.objects.filter(
        document__study=study, participant__isnull=False
    ).select_related("participant"):
        turns[turn.document_id].append((turn.start, turn.end, turn.participant.code))
    return turns


def who(turns: list[tuple[int, int, str]], start: int, end: int) -> set[str]:
    return {code for s, e, code in turns if s < end and start < e}


def test_demo_frequencies_match_a_count_from_the_raw_rows(demo: Study) -> None:
    spans = raw_layer(demo)
    turns = speakers(demo)
    texts = dict(Document.objects.filter(study=demo).values_list("pk", "text"))
    table = build_table(demo, "frequencies")
    assert table.meta["layer"] == "all"
    codes = list(Code.objects.filter(study=demo, codable=True).select_related("parent"))
    assert len(codes) == 13
    everyone = Participant.objects.filter(study=demo).count()
    for code in codes:
        mine = [key for key in spans if key[1] == code.pk]
        people = set()
        for document_id, _code, start, end in mine:
            people |= who(turns[document_id], start, end)
        row = wide_row(table, f"{code.parent.name}/{code.name}")
        assert row["segments"] == len(mine)
        assert row["participants"] == len(people)
        assert row["participant_share"] == pytest.approx(len(people) / everyone)
        assert row["documents"] == len({key[0] for key in mine})
        assert row["words"] == sum(count_words(texts[d][s:e]) for d, _c, s, e in mine)


def test_demo_crosstab_by_country_matches_a_count_from_the_raw_rows(demo: Study) -> None:
    spans = raw_layer(demo)
    turns = speakers(demo)
    country_of = dict(Document.objects.filter(study=demo).values_list("pk", "workshop__country"))
    roster: dict[str, int] = defaultdict(int)
    for country in Participant.objects.filter(study=demo).values_list(
        "workshop__country", flat=True
    ):
        roster[country] += 1
    assert dict(roster) == {"FI": 12, "DE": 12, "GB": 12, "US": 24}
    segments = build_table(demo, "crosstab", by="country", measure="segments")
    share = build_table(demo, "crosstab", by="country", measure="participant_share")
    assert len(segments.tidy) == 13 * 4
    for code in Code.objects.filter(study=demo, codable=True).select_related("parent"):
        path = f"{code.parent.name}/{code.name}"
        for country in roster:
            mine = [k for k in spans if k[1] == code.pk and country_of[k[0]] == country]
            people = set()
            for document_id, _code, start, end in mine:
                people |= who(turns[document_id], start, end)
            assert tidy_value(segments, path, country) == len(mine)
            assert tidy_value(share, path, country) == pytest.approx(len(people) / roster[country])
    assert any("χ²" in n or "not reported" in n for n in segments.notes)


def test_demo_dimension_crosstab_and_cooccurrence_match_pairs_counted_by_hand(
    demo: Study,
) -> None:
    spans = list(raw_layer(demo))
    codes = {c.pk: c for c in Code.objects.filter(study=demo).select_related("parent")}
    pairs: dict[tuple[str, str], int] = defaultdict(int)
    for a, b in itertools.combinations(spans, 2):
        if a[0] == b[0] and a[1] != b[1] and a[2] < b[3] and b[2] < a[3]:
            pairs[(a[1], b[1])] += 1
            pairs[(b[1], a[1])] += 1
    crosstab = build_table(demo, "crosstab", by="dimension:Domain", measure="segments")
    cooccurrence = build_table(demo, "cooccurrence")
    checked = 0
    for a, b in itertools.product(codes.values(), codes.values()):
        if not (a.codable and b.codable) or a.pk == b.pk:
            continue
        expected = pairs.get((a.pk, b.pk), 0)
        path_a = f"{a.parent.name}/{a.name}"
        path_b = f"{b.parent.name}/{b.name}"
        assert tidy_value(cooccurrence, path_a, path_b) == expected
        if a.parent.name == "Concept" and b.parent.name == "Domain":
            assert tidy_value(crosstab, path_a, b.name) == expected
            checked += expected
    assert checked > 50
    assert not crosstab.tidy["code_path"].str.startswith("Domain/").any()


def test_demo_participants_demographics_and_reliability(demo: Study) -> None:
    spans = raw_layer(demo)
    turns = speakers(demo)
    counted: dict[str, int] = defaultdict(int)
    for document_id, _code, start, end in spans:
        for person in who(turns[document_id], start, end):
            counted[person] += 1
    participants = build_table(demo, "participants")
    assert len(participants.tidy) == 60
    for row in participants.tidy.itertuples():
        assert row.segments == counted.get(row.participant, 0)

    demographics = build_table(demo, "demographics").tidy
    values = ParticipantValue.objects.filter(variable__name="gender", participant__study=demo)
    by_country: dict[tuple[str, str], int] = defaultdict(int)
    for value in values.select_related("participant__workshop"):
        by_country[(value.value, value.participant.workshop.country.code)] += 1
    for (gender, country), n in by_country.items():
        cell = demographics[
            (demographics["variable"] == "gender")
            & (demographics["category"] == gender)
            & (demographics["group"] == country)
            & (demographics["measure"] == "participants")
        ]
        assert cell["value"].item() == n

    reliability = build_table(demo, "reliability")
    report = compute_reliability(demo, unit="sentence").as_json()
    for code in report["codes"]:
        row = wide_row(reliability, code["code"])
        assert row["units"] == code["units"]
        assert row["krippendorff_alpha"] == pytest.approx(code["krippendorff_alpha"])
    assert wide_row(reliability, "overall")["cohen_kappa"] == pytest.approx(
        report["overall"]["cohen_kappa"]
    )


def test_demo_quotes_are_exact_excerpts_and_agreed_first(demo: Study) -> None:
    spans = raw_layer(demo)
    texts = dict(Document.objects.filter(study=demo).values_list("title", "text"))
    table = build_table(demo, "quotes")
    assert set(table.tidy.groupby("code_path").size()) == {3}
    for quote in table.tidy.itertuples():
        assert texts[quote.document][quote.start : quote.end] == quote.text
        assert quote.agreed
        assert quote.cite.endswith(quote.workshop)
    agreed = sum(1 for coders in spans.values() if len(coders) == 2)
    assert agreed > 100


def test_every_table_builds_on_the_demo(demo: Study) -> None:
    wave = demo_wave(demo)  # the survey tables are made of a survey
    for name in TABLES:
        table = build_table(demo, name, survey=wave)
        assert table.name == name
        assert len(table.tidy) and len(table.wide)

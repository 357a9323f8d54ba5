from __future__ import annotations

import pytest

from studies.nlp import count_words, pieces, sentence_pipeline, sentence_spans


def sentences(text: str, language: str = "en") -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text, [(0, len(text))], language)]


def test_a_bracketed_note_opens_the_next_sentence() -> None:
    text = "I've got a grievance. [laughter] Last year I applied. (Really.) Yes."
    assert sentences(text) == [
        "I've got a grievance.",
        "[laughter] Last year I applied.",
        "(Really.)",
        "Yes.",
    ]


def test_sentences_never_cross_a_region() -> None:
    text = "Anna: One. Two\n\nBen: Three."
    regions = [(6, 14), (21, 27)]
    spans = sentence_spans(text, regions, "en")
    assert [text[a:b] for a, b in spans] == ["One.", "Two", "Three."]


def test_without_regions_paragraphs_are_split() -> None:
    text = "First paragraph. Still it.\n\nSecond one."
    assert [text[a:b] for a, b in sentence_spans(text, None, "en")] == [
        "First paragraph.",
        "Still it.",
        "Second one.",
    ]


def test_a_language_spacy_lacks_still_gets_sentences() -> None:
    assert sentences("Hyvä. Hyvää päivää!", "fi") == ["Hyvä.", "Hyvää päivää!"]
    assert sentences("Nzuri. Sana!", "sw-KE") == ["Nzuri.", "Sana!"]


def test_words_are_counted_as_a_word_processor_counts_them() -> None:
    assert count_words("FI-1 don't [laughter] — ok?") == 4


# What people say, each ending a sentence, with the marks that make splitting hard: a note in
# brackets, a quotation, abbreviations, an ellipsis, a parenthesis.
SAYINGS = [
    "I've got a grievance.",
    "[laughter] Last year I applied for a loan and the bank's system said no.",
    "Nobody could tell me why!",
    "(Really.)",
    'She said: "Ask a person." Then she left.',
    "Dr. Okafor thinks a diagnosis tool can be accurate, e.g. for X-rays.",
    "Is that negotiability?",
    "Well… maybe it is.",
]


@pytest.fixture
def short_limit(monkeypatch: pytest.MonkeyPatch) -> int:
    """spaCy's length limit, lowered from a million characters so that texts over it stay small
    and quick; spaCy refuses anything longer, so the tests also show no piece ever exceeds it."""
    limit = 1000
    monkeypatch.setattr(sentence_pipeline("en"), "max_length", limit)
    return limit


def test_a_turn_longer_than_spacy_reads_at_once_splits_as_it_would_in_small_pieces(
    short_limit: int,
) -> None:
    said = [SAYINGS[n % len(SAYINGS)] for n in range(400)]
    text = " ".join(said)
    regions, at = [], 0
    for first in range(0, len(said), 5):
        group = " ".join(said[first : first + 5])
        regions.append((at, at + len(group)))
        at += len(group) + 1
    assert len(text) > 10 * short_limit

    spans = sentence_spans(text, [(0, len(text))], "en")

    assert spans == sentence_spans(text, regions, "en")
    assert len(spans) == 450
    assert {text[a:b] for a, b in spans} == {
        "I've got a grievance.",
        "[laughter] Last year I applied for a loan and the bank's system said no.",
        "Nobody could tell me why!",
        "(Really.)",
        'She said: "Ask a person."',
        "Then she left.",
        "Dr. Okafor thinks a diagnosis tool can be accurate, e.g. for X-rays.",
        "Is that negotiability?",
        "Well… maybe it is.",
    }


def test_a_piece_ending_at_an_abbreviation_does_not_end_the_sentence_there(
    short_limit: int,
) -> None:
    first = "I agree, " + "the bank said no, " * 27 + "and that was it."
    second = "the bank said no and " * 19 + "Dr. Okafor" + " explained it to me" * 20 + "."
    text = f"{first} {second}"
    # The first piece has to end after "Dr. ", the last full stop and space it holds.
    assert text.rfind(". ", 0, short_limit) == text.index("Dr. ") + 2
    assert len(second) < short_limit < len(text)

    assert sentences(text) == [first, second]


def test_a_long_turn_without_punctuation_breaks_between_words(short_limit: int) -> None:
    text = "and then we talked about the hiring tool " * 100

    spans = sentence_spans(text, [(0, len(text))], "en")

    assert len(spans) > 3
    assert all(b - a <= short_limit for a, b in spans)
    assert all(set(text[a:b].split()) <= set(text.split()) for a, b in spans)  # no word cut
    assert " ".join(text[a:b] for a, b in spans) == text.strip()


def test_a_text_without_spaces_or_punctuation_is_cut_hard(short_limit: int) -> None:
    text = "x" * 3500

    assert sentence_spans(text, None, "en") == [(0, 1000), (1000, 2000), (2000, 3000), (3000, 3500)]


def test_a_hard_cut_keeps_an_accent_with_its_letter(short_limit: int) -> None:
    # x with an acute accent has no precomposed form: NFC keeps it as two code points.
    text = "a" + "x\u0301" * 600

    spans = sentence_spans(text, None, "en")

    assert text[1000] == "\u0301"
    assert spans == [(0, 999), (999, 1201)]


def test_pieces_end_after_a_sentence_else_a_space_else_anywhere() -> None:
    text = "One two. Three four five six seven. Eight nine ten eleven twelve"
    assert [text[a:b] for a, b in pieces(text, 0, len(text), 30)] == [
        "One two. ",
        "Three four five six seven. ",
        "Eight nine ten eleven twelve",
    ]
    text = "Onetwothree fourfivesixseveneightnine"
    assert [text[a:b] for a, b in pieces(text, 0, len(text), 15)] == [
        "Onetwothree ",
        "fourfivesixseve",
        "neightnine",
    ]

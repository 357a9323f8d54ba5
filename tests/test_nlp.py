from __future__ import annotations

from studies.nlp import count_words, sentence_spans


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

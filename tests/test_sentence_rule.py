"""Sentence splitting reads the sentencizer's rule off the tokenizer's arrays
(studies.nlp.split_texts); it must give exactly the sentences that running spaCy's
sentencizer and reading `doc.sents` gives, in every language and on awkward text."""

from __future__ import annotations

from pathlib import Path

import pytest

from studies.importers import parse_transcript
from studies.nlp import sentence_pipeline, split_texts

DEMO = Path(__file__).resolve().parents[1] / "studies" / "demo"

AWKWARD = [
    "",
    " ",
    "   \n  ",
    ".",
    "!!!",
    "...and then?",
    "Yes. No. Maybe!",
    "He said: “It is fine.” Then he left… Really?! Yes.",
    "Dr. Smith arrived at 3 p.m. and left (early). [laughter] OK.",
    "Price: 3.50 € — too much? ¿Qué? ¡Sí! Fine.",
    "Ends without a mark",
    "Two  spaces.  And\ttabs.\tAnd\nnew lines.\n",
    "Emoji 😀. Next one 🙂! Last",
    "「日本語」です。次の文。",
    "Das ist gut. Die Ärztin sagt: „Nein.“ Und dann?",
    "Tämä on hyvä. Onko se reilua? Ehkä.",
    "«Non», dit-il. « Oui » ? D'accord.",
    "a.b.c. d? e! f",
    "' . ' ? \" ! \"",
    # Ending marks of other scripts, spaced so that the tokenizer keeps them apart.
    "Wait … what ‼ next ⁉ and 。 then ። and । also ؟ more \u06d4 last",
]


def demo_turns() -> list[str]:
    texts = []
    for path in sorted(DEMO.iterdir()):
        if path.suffix in (".txt", ".vtt", ".srt", ".md"):
            parsed = parse_transcript(path.read_bytes(), path.name)
            texts += [parsed.text[t.start : t.end] for t in parsed.turns]
    return texts


@pytest.mark.parametrize("language", ["en", "de", "fi", "fr", "zz"])
def test_the_rule_gives_the_sentencizers_sentences(language: str) -> None:
    nlp = sentence_pipeline(language)
    texts = AWKWARD + demo_turns()

    by_rule = list(split_texts(nlp, texts))
    by_spacy = list(split_texts(nlp, texts, by_rule=False))

    assert by_rule == by_spacy
    assert sum(len(found) for found in by_rule) > len(texts)  # it did split


def test_the_rule_uses_the_pipelines_own_ending_marks() -> None:
    import spacy

    nlp = spacy.blank("en")
    nlp.add_pipe("sentencizer", config={"punct_chars": ["|"]})
    texts = ["One | two. Three", "No marks. At all!"]

    assert list(split_texts(nlp, texts)) == list(split_texts(nlp, texts, by_rule=False))
    assert list(split_texts(nlp, texts)) == [[(0, 5), (6, 16)], [(0, 17)]]

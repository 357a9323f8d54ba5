"""Text processing with spaCy: sentence spans and word counts.

Only blank pipelines with rule-based components are used unless a trained pipeline is installed
and named in COLLOQUY_SPACY_MODELS: nothing is ever downloaded. Sentence spans are computed once
at import and stored, so a spaCy upgrade cannot move existing units.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import lru_cache

import spacy
from django.conf import settings
from spacy.language import Language

# Opening brackets and quotation marks (written as escapes: some look like other characters).
OPENERS = "([{\u201c\u2018\u201e\u00ab\u2039\u00bf\u00a1"
# A word is what a word processor counts: a run of non-space characters with a letter or digit
# in it ("FI-1", "don't" and "[laughter]" are one word each; a lone dash is none).
WORD_RE = re.compile(r"[^\s]*\w[^\s]*")


def count_words(text: str) -> int:
    return sum(1 for _ in WORD_RE.finditer(text))


def base_language(tag: str) -> str:
    """'en-GB' -> 'en'; the part of a BCP 47 tag that spaCy knows languages by."""
    return (tag or "xx").split("-")[0].lower()


@lru_cache(maxsize=16)
def sentence_pipeline(language: str) -> Language:
    """A pipeline that splits sentences: a configured trained one where installed, else
    `spacy.blank(lang)` with the rule-based sentencizer ('xx' for languages spaCy lacks)."""
    lang = base_language(language)
    model = settings.COLLOQUY_SPACY_MODELS.get(lang)
    if model:
        return spacy.load(model, exclude=["ner"])
    try:
        nlp = spacy.blank(lang)
    except ImportError:
        nlp = spacy.blank("xx")
    nlp.add_pipe("sentencizer")
    return nlp


def sentence_spans(
    text: str, regions: Sequence[tuple[int, int]] | None, language: str
) -> list[tuple[int, int]]:
    """Sentence (start, end) offsets into `text`, found inside each region (a turn's utterance),
    so that no sentence crosses a speaker change. Without regions, paragraphs are the regions."""
    if regions is None:
        regions = [
            (m.start(), m.end()) for m in re.finditer(r"\S(?:.*?\S)?(?=\n\s*\n|\s*\Z)", text, re.S)
        ]
    nlp = sentence_pipeline(language)
    spans: list[tuple[int, int]] = []
    docs: Iterable = nlp.pipe((text[start:end] for start, end in regions), batch_size=256)
    for (offset, _end), doc in zip(regions, docs, strict=True):
        carry = None  # an opening bracket or quote the splitter left at a sentence's end
        for sent in doc.sents:
            chunk = sent.text
            lead = len(chunk) - len(chunk.lstrip())
            trail = len(chunk.rstrip())
            start, end = offset + sent.start_char + lead, offset + sent.start_char + trail
            if carry is not None:
                start, carry = carry, None
            # "grievance. [laughter] Last year": the sentencizer keeps "[" with the sentence
            # before it; it opens the next one.
            stripped = text[start:end]
            if len(stripped) > 1 and stripped[-1] in OPENERS and stripped[-2].isspace():
                carry = end - 1
                end = start + len(stripped[:-1].rstrip())
            if end > start:
                spans.append((start, end))
        if carry is not None:
            spans.append((carry, carry + 1))
    return spans

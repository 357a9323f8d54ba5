"""Text processing with spaCy: sentence spans and word counts.

Only blank pipelines with rule-based components are used unless a trained pipeline is installed
and named in COLLOQUY_SPACY_MODELS: nothing is ever downloaded. Sentence spans are computed once
at import and stored, so a spaCy upgrade cannot move existing units.

spaCy is imported by the functions that run a pipeline, not with this module: counting words
and naming languages are needed by every page, and loading spaCy takes most of a second.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from functools import lru_cache
from typing import TYPE_CHECKING

from django.conf import settings

if TYPE_CHECKING:
    from spacy.language import Language

# Opening brackets and quotation marks (written as escapes: some look like other characters).
OPENERS = "([{\u201c\u2018\u201e\u00ab\u2039\u00bf\u00a1"
# A word is what a word processor counts: a run of non-space characters with a letter or digit
# in it ("FI-1", "don't" and "[laughter]" are one word each; a lone dash is none).
WORD_RE = re.compile(r"[^\s]*\w[^\s]*")

Span = tuple[int, int]

_CLOSERS = re.escape(")]}\"'\u201d\u2019\u00bb\u203a")
_LAST_SPACE = re.compile(r".*\s", re.S)


@lru_cache(maxsize=1)
def _last_sentence_end() -> re.Pattern[str]:
    """Where a piece of an over-long text may end, best first: after the last sentence-ending
    mark (those the sentencizer knows, in every script), closing quotes or brackets and a space;
    else (`_LAST_SPACE`) after the last space. Greedy `.*` finds the last one by backtracking
    from the piece's end."""
    from spacy.pipeline import Sentencizer

    enders = "".join(re.escape(c) for c in Sentencizer.default_punct_chars)
    return re.compile(rf".*[{enders}][{_CLOSERS}]*\s", re.S)


def count_words(text: str) -> int:
    return sum(1 for _ in WORD_RE.finditer(text))


def base_language(tag: str) -> str:
    """'en-GB' -> 'en'; the part of a BCP 47 tag that spaCy knows languages by."""
    return (tag or "xx").split("-")[0].lower()


@lru_cache(maxsize=16)
def sentence_pipeline(language: str) -> Language:
    """A pipeline that splits sentences: a configured trained one where installed, else
    `spacy.blank(lang)` with the rule-based sentencizer ('xx' for languages spaCy lacks)."""
    import spacy

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


def safe_cut(text: str, start: int, stop: int) -> int:
    """Where to end a piece of text[start:] that may be at most `stop - start` characters long:
    just after the last sentence-ending punctuation followed by whitespace, else after the last
    whitespace, else at `stop` itself (never between a letter and its combining accent)."""
    for pattern in (_last_sentence_end(), _LAST_SPACE):
        match = pattern.match(text, start, stop)
        if match is not None and match.end() > start + 1:
            return match.end()
    cut = stop
    while cut > start + 1 and unicodedata.combining(text[cut]):
        cut -= 1
    return cut


def pieces(text: str, start: int, end: int, max_chars: int) -> Iterator[Span]:
    """text[start:end] as consecutive (start, end) pieces of at most `max_chars` characters,
    each ending where `safe_cut` says: what spaCy can take in one call (`nlp.max_length`)."""
    while end - start > max_chars:
        cut = safe_cut(text, start, start + max_chars)
        yield start, cut
        start = cut
    yield start, end


def _long_region_sentences(nlp: Language, text: str, start: int, end: int) -> list[Span]:
    """Sentences of a region longer than spaCy accepts in one call, read piece by piece.

    A piece's last sentence may go on past the cut, so it is read again at the start of the
    next piece: every boundary is one the pipeline found with the whole sentence in view, as it
    would have with the whole region. Only a sentence longer than a piece is broken at the cut.
    """
    found: list[Span] = []
    while start < end:
        stop = end
        if end - start > nlp.max_length:
            stop = safe_cut(text, start, start + nlp.max_length)
        doc = nlp(text[start:stop])
        sents = [(start + sent.start_char, start + sent.end_char) for sent in doc.sents]
        start = stop
        if stop < end and len(sents) > 1:
            start = sents.pop()[0]
        found.extend(sents)
    return found


def split_texts(
    nlp: Language, texts: Iterable[str], *, by_rule: bool = True
) -> Iterator[list[Span]]:
    """Each text's sentences as (start, end) offsets into it, as the pipeline splits them.

    A blank pipeline's only component, the rule-based sentencizer, starts a sentence at the
    first token after a sentence-ending mark that is neither punctuation nor such a mark. That
    rule is applied here to the tokenizer's arrays (`_rule_sentences`), which gives the very
    same sentences as running the component and reading `doc.sents`, without a Python object
    per token (those took most of an import's sentence splitting). A trained pipeline runs as
    it is. `by_rule=False` runs the component whatever the pipeline (to compare the two)."""
    if by_rule and nlp.pipe_names == ["sentencizer"]:
        from spacy.attrs import IDX, IS_PUNCT, LENGTH, ORTH

        enders = _ender_ids(nlp)
        for doc in nlp.tokenizer.pipe(texts, batch_size=256):
            yield _rule_sentences(doc.to_array([ORTH, IS_PUNCT, IDX, LENGTH]).tolist(), enders)
    else:
        for doc in nlp.pipe(texts, batch_size=256):
            yield [(sent.start_char, sent.end_char) for sent in doc.sents]


@lru_cache(maxsize=16)
def _ender_ids(nlp: Language) -> frozenset[int]:
    """The string ids (ORTH) of the sentencizer's sentence-ending marks."""
    from spacy.strings import hash_string

    return frozenset(hash_string(mark) for mark in nlp.get_pipe("sentencizer").punct_chars)


def _rule_sentences(tokens: list[list[int]], enders: frozenset[int]) -> list[Span]:
    """Sentences from tokens given as [ORTH, IS_PUNCT, IDX, LENGTH]: the first token starts
    one, and so does the first token after an ending mark that is neither punctuation nor an
    ending mark itself. A sentence ends where its last token ends (no trailing space)."""
    if not tokens:
        return []
    starts = [0]
    after_end = False
    for i, (orth, punct, _idx, _length) in enumerate(tokens):
        is_ender = orth in enders
        if after_end and not punct and not is_ender:
            starts.append(i)
            after_end = False
        elif is_ender:
            after_end = True
    stops = [*starts[1:], len(tokens)]
    return [
        (tokens[a][2], tokens[b - 1][2] + tokens[b - 1][3])
        for a, b in zip(starts, stops, strict=True)
    ]


def sentence_spans(
    text: str,
    regions: Sequence[tuple[int, int]] | None,
    language: str,
    progress: Callable[[int], object] | None = None,
) -> list[tuple[int, int]]:
    """Sentence (start, end) offsets into `text`, found inside each region (a turn's utterance),
    so that no sentence crosses a speaker change. Without regions, paragraphs are the regions.
    A region longer than spaCy reads at once (a one-line file, a very long turn) is read in
    pieces and comes out as it would whole. `progress` hears how far into the text it is."""
    if regions is None:
        regions = [
            (m.start(), m.end()) for m in re.finditer(r"\S(?:.*?\S)?(?=\n\s*\n|\s*\Z)", text, re.S)
        ]
    nlp = sentence_pipeline(language)
    limit = nlp.max_length
    split = split_texts(nlp, (text[a:b] for a, b in regions if b - a <= limit))
    spans: list[tuple[int, int]] = []
    for offset, end in regions:
        if end - offset <= limit:
            found = [(offset + start, offset + stop) for start, stop in next(split)]
        else:
            found = _long_region_sentences(nlp, text, offset, end)
        spans.extend(_tidy(text, found))
        if progress is not None:
            progress(end)
    return spans


def _tidy(text: str, found: Iterable[Span]) -> Iterator[Span]:
    """The pipeline's sentences of one region without surrounding whitespace, each opening
    bracket or quote moved to the sentence it opens."""
    carry = None  # an opening bracket or quote the splitter left at a sentence's end
    for found_start, found_end in found:
        chunk = text[found_start:found_end]
        lead = len(chunk) - len(chunk.lstrip())
        trail = len(chunk.rstrip())
        start, end = found_start + lead, found_start + trail
        if carry is not None:
            start, carry = carry, None
        # "grievance. [laughter] Last year": the sentencizer keeps "[" with the sentence
        # before it; it opens the next one.
        stripped = text[start:end]
        if len(stripped) > 1 and stripped[-1] in OPENERS and stripped[-2].isspace():
            carry = end - 1
            end = start + len(stripped[:-1].rstrip())
        if end > start:
            yield start, end
    if carry is not None:
        yield carry, carry + 1

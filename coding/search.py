"""Search a study's transcripts (keyword in context) and suggest codes from the codebook's patterns.

Every offset here is a code point offset into `Document.text` (a Python `str` index), start
inclusive, end exclusive, like everywhere else in Colloquy.

Search modes:
- word: each query word is matched as a whole word, case-insensitively. With several words, a
  turn is a result only when it holds every one of them (a researcher who types "trust algorithm"
  wants the passages about both); each occurrence of any of the words in such a turn is one hit,
  so that the keyword-in-context list shows every place the words appear.
- lemma: like word, but each word stands for every form of its lemma ("explained" finds "explain",
  "explains", "explaining"), from the lookup table spacy-lookups-data ships for the document's
  language. Languages without a table (Finnish) fall back to a case-insensitive prefix match of a
  crude stem of the word (see `prefix_stem`); the search page says so.
- phrase: the exact phrase, case-insensitively, with any run of whitespace between its words.

Only what speakers said is searched: in a document with turns, matches outside a turn (speaker
labels, headers) are not results. In a document without turns (survey text), the sentence is the
unit in which several words must occur together.

Suggestions expand each pattern match to the stored sentence that holds it: sentences are the
unit coders agree on (and the default unit of the reliability figures), so a suggestion the coder
accepts is a coding the agreement measures can compare with the other coders' codings.

spaCy is imported by the functions that read a lemma table or build a pipeline: the search page's
word and phrase modes, and every page that only names these functions, do without it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from django.utils.translation import get_language_info
from django_countries import countries

from coding.models import Code, CodeTree, Coding, SuggestionDecision
from studies.access import Access
from studies.models import Document, Sentence, Study, Turn
from studies.nlp import base_language, pieces
from studies.spans import Span, SpanIndex

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

MODES = ("word", "lemma", "phrase")
# Enough for every occurrence of a common word in a study of five long workshops; past this the
# page asks for a narrower search instead of rendering an unreadable list.
DEFAULT_LIMIT = 5000
# A query is a handful of words; more would only build an enormous regular expression.
MAX_QUERY_WORDS = 12

# A word of a query: letters and digits, with inner apostrophes or hyphens ("don't",
# "decision-making") kept inside the word.
RIGHT_QUOTE = "\u2019"  # the curly apostrophe word processors type
QUERY_WORD_RE = re.compile(r"\w+(?:['\u2019\-]\w+)*")
APOSTROPHES = "['\u2019]"
WHITESPACE_RE = re.compile(r"\s+")


@dataclass(frozen=True)
class Hit:
    """One occurrence of the query, with where it was said and by whom, and its context."""

    document_id: int
    document_title: str
    workshop: str  # the workshop's code, or "" for a document outside any workshop
    country: str  # ISO 3166 alpha-2, or ""
    turn_seq: int | None
    speaker: str
    participant: str  # the participant's code, or "" for a facilitator
    start: int
    end: int
    left: str
    match: str
    right: str
    sentence_start: int | None
    sentence_end: int | None
    # Whether the context stops short of the turn's edge (the page shows an ellipsis there).
    left_cut: bool = False
    right_cut: bool = False

    @property
    def key(self) -> str:
        """How a result is posted back to "code these results": document:start:end."""
        return f"{self.document_id}:{self.start}:{self.end}"

    @property
    def country_name(self) -> str:
        return countries.name(self.country) if self.country else ""


@dataclass(frozen=True)
class Suggestion:
    code_id: int
    start: int
    end: int
    text: str


# --- lemma tables -----------------------------------------------------------------------------


@lru_cache(maxsize=16)
def lemma_table(language: str) -> dict[str, str] | None:
    """spacy-lookups-data's `lemma_lookup` (form -> lemma) for a language, or None without one.

    spaCy's `load_lookups` returns the same data as a `Table` whose keys are string hashes, which
    cannot be inverted into forms; so the table is read through the same registry entry point and
    loader that `load_lookups` uses, from the installed package (never the network)."""
    from spacy.util import load_language_data, registry

    lang = base_language(language)
    if lang not in registry.lookups:
        return None
    tables = registry.lookups.get(lang)
    if "lemma_lookup" not in tables:
        return None
    return load_language_data(tables["lemma_lookup"])


@lru_cache(maxsize=16)
def forms_by_lemma(language: str) -> dict[str, frozenset[str]] | None:
    """The lemma table inverted once per language (lemma -> every form), all lower-cased so that
    sentence-initial and German capitalised forms match too."""
    table = lemma_table(base_language(language))
    if table is None:
        return None
    inverted: dict[str, set[str]] = defaultdict(set)
    for form, lemma in table.items():
        inverted[lemma.lower()].add(form.lower())
    return {lemma: frozenset(forms) for lemma, forms in inverted.items()}


def lemmas_of(word: str, language: str) -> set[str]:
    """The lemma(s) of a query word by lookup. The tables are case-sensitive (German nouns are
    capitalised, "Explained" is absent), so the word is tried as typed, lower-cased and
    capitalised; a word the table lacks is its own lemma."""
    table = lemma_table(base_language(language)) or {}
    found = {table[w].lower() for w in (word, word.lower(), word.capitalize()) if w in table}
    return found or {word.lower()}


def lemma_forms(word: str, language: str) -> list[str] | None:
    """Every form of the query word's lemma(s), the word and its lemmas included, longest first;
    None for a language without a lemma table."""
    inverted = forms_by_lemma(base_language(language))
    if inverted is None:
        return None
    forms = {word.lower()}
    for lemma in lemmas_of(word, language):
        forms.add(lemma)
        forms.update(inverted.get(lemma, ()))
    return sorted(forms, key=lambda form: (-len(form), form))


def prefix_stem(word: str) -> str:
    """A crude stem for languages without a lemma table: the word less its last three letters,
    but at least four letters ("selittää" -> "selit", "luottaa" -> "luot"). Predictable rather
    than clever, and the page shows the stem so the researcher knows what was searched."""
    word = word.lower()
    return word if len(word) <= 4 else word[: max(4, len(word) - 3)]


def language_name(language: str) -> str:
    lang = base_language(language)
    try:
        return str(get_language_info(lang)["name"])
    except KeyError:
        return lang


def describe_lemma_search(query: str, languages: Iterable[str]) -> list[str]:
    """One line per document language saying which forms (or which stem) lemma mode looks for."""
    words = query_words(query)
    if not words:
        return []
    lines = []
    for lang in sorted({base_language(language) for language in languages}):
        name = language_name(lang)
        parts = []
        for word in words:
            forms = lemma_forms(word, lang)
            if forms is None:
                parts.append(f"words beginning with “{prefix_stem(word)}”")
            else:
                parts.append(", ".join(sorted(forms)))
        if forms_by_lemma(lang) is None:
            lines.append(f"{name} has no word list here, so lemma search finds " + "; ".join(parts))
        else:
            lines.append(f"{name}: " + "; ".join(parts))
    return lines


# --- query patterns ---------------------------------------------------------------------------


def query_words(query: str) -> list[str]:
    """The distinct words of a query, in the order typed."""
    seen: dict[str, str] = {}
    for word in QUERY_WORD_RE.findall(query or ""):
        seen.setdefault(word.lower(), word)
    return list(seen.values())[:MAX_QUERY_WORDS]


def _literal(text: str) -> str:
    # A straight and a curly apostrophe mean the same thing to a reader; transcripts mix them.
    return "".join(APOSTROPHES if ch in ("'", RIGHT_QUOTE) else re.escape(ch) for ch in text)


def _whole_words(alternatives: Sequence[str]) -> re.Pattern[str]:
    body = "|".join(_literal(form) for form in alternatives)
    return re.compile(rf"(?<!\w)(?:{body})(?!\w)", re.IGNORECASE)


def _phrase(query: str) -> re.Pattern[str] | None:
    parts = query.split()
    if not parts:
        return None
    body = r"\s+".join(_literal(part) for part in parts)
    # Word boundaries only where the phrase begins or ends with a word character, so "rate"
    # does not match inside "accurate" while ", isn't it" still matches after a word.
    head = r"(?<!\w)" if re.match(r"\w", parts[0]) else ""
    tail = r"(?!\w)" if re.search(r"\w$", parts[-1]) else ""
    return re.compile(head + body + tail, re.IGNORECASE)


def term_patterns(query: str, mode: str, language: str) -> list[re.Pattern[str]]:
    """One pattern per term of the query (every term must occur in the unit, see the module
    docstring). Phrase mode is a single term."""
    if mode == "phrase":
        pattern = _phrase(query)
        return [pattern] if pattern else []
    patterns = []
    for word in query_words(query):
        if mode == "lemma":
            forms = lemma_forms(word, language)
            if forms is None:
                stem = _literal(prefix_stem(word))
                patterns.append(re.compile(rf"(?<!\w){stem}\w*", re.IGNORECASE))
                continue
            patterns.append(_whole_words(forms))
        else:
            patterns.append(_whole_words([word]))
    return patterns


# --- spans ------------------------------------------------------------------------------------


def _squash(text: str) -> str:
    # Line breaks inside a turn are layout, not meaning; a context line reads better without.
    return WHITESPACE_RE.sub(" ", text)


def context_window(
    text: str, start: int, end: int, *, low: int, high: int, chars: int
) -> tuple[int, int]:
    """About `chars` characters either side of text[start:end], inside [low, high), cut at
    word boundaries: a word that the window would cut is left out whole."""
    left = max(low, start - chars)
    if left > low and not text[left - 1].isspace() and not text[left].isspace():
        left = next((i for i in range(left, start) if text[i].isspace()), start)
    right = min(high, end + chars)
    if right < high and not text[right - 1].isspace() and not text[right].isspace():
        right = next((i for i in range(right - 1, end - 1, -1) if text[i].isspace()), end)
    return left, right


@dataclass(frozen=True)
class _TurnRow:
    seq: int
    speaker: str
    participant: str
    start: int
    end: int


def _turns_of(document_ids: Iterable[int]) -> dict[int, list[_TurnRow]]:
    turns: dict[int, list[_TurnRow]] = defaultdict(list)
    for doc_id, seq, speaker, participant, start, end in (
        Turn.objects.filter(document_id__in=list(document_ids))
        .order_by("document_id", "start")
        .values_list("document_id", "seq", "speaker", "participant__code", "start", "end")
    ):
        turns[doc_id].append(_TurnRow(seq, speaker, participant or "", start, end))
    return turns


def sentences_of(document_ids: Iterable[int]) -> dict[int, list[Span]]:
    sentences: dict[int, list[Span]] = defaultdict(list)
    for doc_id, start, end in (
        Sentence.objects.filter(document_id__in=list(document_ids))
        .order_by("document_id", "start")
        .values_list("document_id", "start", "end")
    ):
        sentences[doc_id].append((start, end))
    return sentences


# --- search -----------------------------------------------------------------------------------


def search(
    study: Study,
    query: str,
    *,
    mode: str = "word",
    workshop: str | None = None,
    country: str | None = None,
    speaker: str | None = None,
    code: Code | int | None = None,
    access: Access,
    context_chars: int = 60,
    limit: int | None = DEFAULT_LIMIT,
) -> list[Hit]:
    """Every occurrence of the query in the study's documents, in document order (workshop, then
    title), as keyword-in-context hits. Filters: a workshop code, a country (ISO), a speaker
    (label or participant code), a code (only matches inside codings of that code or its
    descendants that the user may see: blind coding hides other coders' codings)."""
    if mode not in MODES:
        raise ValueError(f"{mode!r} is not a search mode: use one of {', '.join(MODES)}.")
    documents = Document.objects.filter(study=study)
    if workshop:
        documents = documents.filter(workshop__code=workshop)
    if country:
        documents = documents.filter(workshop__country=country.upper())

    inside: dict[int, list[Span]] | None = None
    if code is not None:
        inside = defaultdict(list)
        for doc_id, start, end in (
            Coding.objects.filter(
                document__study=study,
                code_id__in=CodeTree.of(study).subtree(code.pk if isinstance(code, Code) else code),
            )
            .visible_to(access)
            .values_list("document_id", "start", "end")
        ):
            inside[doc_id].append((start, end))
        documents = documents.filter(pk__in=list(inside))

    # First pass over the texts alone: only documents where every term occurs need their turns
    # and sentences, which are then fetched in one query each.
    patterns_by_language: dict[str, list[re.Pattern[str]]] = {}
    candidates = []
    for document in (
        documents.select_related("workshop")
        .order_by("workshop__code", "title")
        .only("pk", "title", "language", "text", "workshop__code", "workshop__country")
    ):
        lang = base_language(document.language)
        if lang not in patterns_by_language:
            patterns_by_language[lang] = term_patterns(query, mode, lang)
        patterns = patterns_by_language[lang]
        if not patterns:
            return []
        matches = [[(m.start(), m.end()) for m in p.finditer(document.text)] for p in patterns]
        if all(matches):
            candidates.append((document, matches))
    if not candidates:
        return []

    ids = [document.pk for document, _ in candidates]
    turns = _turns_of(ids)
    sentences = sentences_of(ids)
    wanted_speaker = (speaker or "").strip().casefold()
    hits: list[Hit] = []
    for document, matches in candidates:
        text = document.text
        doc_turns = turns.get(document.pk, [])
        turn_index = SpanIndex((t.start, t.end, i) for i, t in enumerate(doc_turns))
        doc_sentences = sentences.get(document.pk, [])
        sentence_index = SpanIndex((s, e, i) for i, (s, e) in enumerate(doc_sentences))
        coded = sorted(inside.get(document.pk, [])) if inside is not None else None

        # Which unit (turn, else sentence) each match falls in; a match outside every turn of a
        # transcript is a speaker label or a header, not something said.
        by_unit: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
        for term, spans in enumerate(matches):
            for start, end in spans:
                if doc_turns:
                    unit = turn_index.containing(start, end)
                    if unit is None:
                        continue
                else:
                    found = sentence_index.containing(start, end)
                    unit = -1 if found is None else found
                by_unit[unit].append((start, end, term))

        kept: set[Span] = set()
        for unit, unit_matches in by_unit.items():
            if len({term for _, _, term in unit_matches}) < len(matches):
                continue
            turn = doc_turns[unit] if doc_turns else None
            if wanted_speaker and (
                turn is None
                or wanted_speaker not in (turn.speaker.casefold(), turn.participant.casefold())
            ):
                continue
            for start, end, _term in unit_matches:
                if coded is not None and not any(cs <= start and end <= ce for cs, ce in coded):
                    continue
                kept.add((start, end))

        for start, end in sorted(kept):
            i = turn_index.containing(start, end) if doc_turns else None
            turn = doc_turns[i] if i is not None else None
            low, high = (turn.start, turn.end) if turn else (0, len(text))
            # Context stays inside the turn: words from the next speaker would make the line
            # read as if this speaker said them.
            left, right = context_window(text, start, end, low=low, high=high, chars=context_chars)
            sentence = sentence_index.covering(start, end)
            hits.append(
                Hit(
                    document_id=document.pk,
                    document_title=document.title,
                    workshop=document.workshop.code if document.workshop else "",
                    country=str(document.workshop.country) if document.workshop else "",
                    turn_seq=turn.seq if turn else None,
                    speaker=turn.speaker if turn else "",
                    participant=turn.participant if turn else "",
                    start=start,
                    end=end,
                    left=_squash(text[left:start]).lstrip(),
                    match=_squash(text[start:end]),
                    right=_squash(text[end:right]).rstrip(),
                    sentence_start=sentence[0] if sentence else None,
                    sentence_end=sentence[1] if sentence else None,
                    left_cut=left > low,
                    right_cut=right < high,
                )
            )
            if limit is not None and len(hits) >= limit:
                return hits
    return hits


# --- suggestions ------------------------------------------------------------------------------

LEMMA_PREFIX = "lemma:"


class LowercaseLemma:
    """Runs after spaCy's lookup lemmatizer. The lookup table is case-sensitive, so a
    capitalised form ("Explained" at the start of a sentence) keeps itself as its lemma; this
    retries it lower-cased and stores every lemma lower-cased, so patterns match either way."""

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp

    def __call__(self, doc: Doc) -> Doc:
        table = self.nlp.get_pipe("lemmatizer").lookups.get_table("lemma_lookup")
        for token in doc:
            lemma = token.lemma_
            if lemma == token.text and token.lower_ != token.text:
                lemma = table.get(token.lower_, token.lower_)
            token.lemma_ = lemma.lower()
        return doc


def make_lowercase_lemma(nlp: Language, name: str) -> LowercaseLemma:
    return LowercaseLemma(nlp)


@lru_cache(maxsize=16)
def matching_pipeline(language: str) -> Language:
    """A blank pipeline with the lookup lemmatizer where spacy-lookups-data has a table for the
    language (tokenizer only otherwise). Built once per language: loading the tables takes a
    fraction of a second that no request should pay twice."""
    import spacy
    from spacy.language import Language

    # Registered here rather than with a decorator, which would load spaCy with this module;
    # registering the same function again is allowed.
    Language.factory("colloquy_lowercase_lemma", func=make_lowercase_lemma)
    lang = base_language(language)
    try:
        nlp = spacy.blank(lang)
    except ImportError:
        nlp = spacy.blank("xx")
    if lemma_table(lang) is not None:
        nlp.add_pipe("lemmatizer", config={"mode": "lookup"})
        nlp.add_pipe("colloquy_lowercase_lemma")
        # Reads the tables from the installed spacy-lookups-data package.
        nlp.initialize()
    return nlp


def has_lemmas(nlp: Language) -> bool:
    return "lemmatizer" in nlp.pipe_names


def _regions(document: Document, turns: Sequence[Span], sentences: Sequence[Span]) -> list[Span]:
    # Turns are what was said; a document without turns is read sentence by sentence (which
    # also keeps every piece under spaCy's length limit).
    if turns:
        return list(turns)
    if sentences:
        return list(sentences)
    return [(0, len(document.text))] if document.text else []


def suggestions(document: Document, *, user: object) -> list[Suggestion]:
    """Codes the codebook's patterns suggest in this document for this user, each expanded to
    the stored sentence holding the match (the match itself where no sentence does). Left out:
    a span the user already coded with that code (any overlap) and a span the user already
    decided on for that code (rejected, or accepted and perhaps removed since)."""
    codes = list(
        Code.objects.filter(study_id=document.study_id, codable=True)
        .exclude(patterns="")
        .values_list("pk", "patterns")
    )
    if not codes:
        return []
    from spacy.matcher import Matcher, PhraseMatcher

    nlp = matching_pipeline(document.language)
    lemmas = has_lemmas(nlp)
    phrases = PhraseMatcher(nlp.vocab, attr="LOWER")
    tokens = Matcher(nlp.vocab)
    code_of_key: dict[int, int] = {}
    for code_id, patterns in codes:
        key = f"code-{code_id}"
        code_of_key[nlp.vocab.strings.add(key)] = code_id
        plain, lemma_patterns = [], []
        for line in patterns.splitlines():
            line = line.strip()
            if line.lower().startswith(LEMMA_PREFIX):
                words = line[len(LEMMA_PREFIX) :].strip()
                if not words:
                    continue
                if lemmas:
                    pattern = [{"LEMMA": token.lemma_} for token in nlp(words)]
                else:
                    pattern = [{"LOWER": token.lower_} for token in nlp.make_doc(words)]
                lemma_patterns.append(pattern)
            elif line:
                plain.append(nlp.make_doc(line))
        if plain:
            phrases.add(key, plain)
        if lemma_patterns:
            tokens.add(key, lemma_patterns)
    if not len(phrases) and not len(tokens):
        return []

    text = document.text
    turn_spans = list(
        Turn.objects.filter(document=document).order_by("start").values_list("start", "end")
    )
    sentence_spans = sentences_of([document.pk]).get(document.pk, [])
    sentence_index = SpanIndex.of(sentence_spans)
    # A turn longer than spaCy reads at once (a one-line transcript) goes in pieces.
    regions = [
        piece
        for start, end in _regions(document, turn_spans, sentence_spans)
        for piece in pieces(text, start, end, nlp.max_length)
    ]

    found: set[tuple[int, int, int]] = set()
    docs = nlp.pipe((text[start:end] for start, end in regions), batch_size=256)
    for (offset, _end), doc in zip(regions, docs, strict=True):
        for matcher in (phrases, tokens):
            if not len(matcher):
                continue
            for match_id, first, last in matcher(doc):
                span = doc[first:last]
                start = offset + span.start_char
                end = offset + span.end_char
                unit = sentence_index.covering(start, end)
                start, end = unit if unit else (start, end)
                found.add((code_of_key[match_id], start, end))
    if not found:
        return []

    coded: dict[int, list[Span]] = defaultdict(list)
    for code_id, start, end in Coding.objects.filter(
        document=document, coder=user, consensus=False, code_id__in={c for c, _, _ in found}
    ).values_list("code_id", "start", "end"):
        coded[code_id].append((start, end))
    decided = set(
        SuggestionDecision.objects.filter(document=document, user=user).values_list(
            "code_id", "start", "end"
        )
    )
    result = [
        Suggestion(code_id, start, end, text[start:end])
        for code_id, start, end in found
        if (code_id, start, end) not in decided
        and not any(cs < end and start < ce for cs, ce in coded.get(code_id, ()))
    ]
    return sorted(result, key=lambda s: (s.start, s.end, s.code_id))

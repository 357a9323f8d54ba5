"""Codings for the demo study, made the way two trained coders would make them: sentence by
sentence, mostly agreeing, sometimes not.

A sentence is "about" a code when it contains one of that code's cue stems (in English, German or
Finnish). The first coder codes every such sentence, occasionally the whole turn instead; the
second agrees most of the time, misses some, adds a few of their own and now and then codes a
neighbouring code of the same dimension. Everything is seeded, so the demo is the same on every
machine and its agreement figures are stable.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from pathlib import Path

from coding.models import Code, Coding, code_paths
from coding.services import CodingSpan, apply_codings
from studies.models import Document

# The demo codebook: Concept (explainability, accuracy, humanity, fairness, negotiability) and
# Domain (hiring, medicine, justice, lending, welfare), with definitions and patterns.
CODEBOOK = Path(__file__).resolve().parent / "codebook.csv"

# Lower-case stems (regular expressions); a sentence matches a code when one starts a word in it.
CUES: dict[str, tuple[str, ...]] = {
    "Concept/negotiability": (
        "negotia",
        "argue",
        "appeal",
        "exception",
        "flexib",
        "push back",
        "contest",
        "challeng",
        "workaround",
        "way around",
        "explain my situation",
        "explain your situation",
        "talk to someone",
        "talk to a person",
        "verhandl",
        "widersp",
        "einspruch",
        "ausnahme",
        "spielraum",
        "ansprechpartner",
        "neuvot",
        "valit",
        "poikkeu",
        "jousta",
        "kiertä",
    ),
    "Concept/explainability": (
        "explain",
        "explanation",
        "transparen",
        "black box",
        "reason",
        "why",
        "understand",
        "erklär",
        "begründ",
        "nachvollzieh",
        "warum",
        "durchschau",
        "selit",
        "perustel",
        "miksi",
        "läpinäky",
        "ymmär",
    ),
    "Concept/accuracy": (
        "accura",
        "error",
        "mistake",
        "wrong",
        "precis",
        "reliab",
        "statistic",
        "false posit",
        "genau",
        "fehler",
        "falsch",
        "irrtum",
        "zuverläss",
        "treffsich",
        "tarkk",
        "virhe",
        "väärin",
        "luotettav",
    ),
    "Concept/humanity": (
        "human",
        "person",
        "empath",
        "dignity",
        "compassion",
        "face to face",
        "eye",
        "warm",
        "mensch",
        "würde",
        "persönlich",
        "mitgefühl",
        "gefühl",
        "ihmi",
        "empat",
        "arvok",
        "kasvokkain",
        "inhimil",
        "myötätun",
    ),
    "Concept/fairness": (
        r"fair\b",
        "fairness",
        "unfair",
        "bias",
        "discrimin",
        "equal",
        "prejudic",
        "racis",
        "gerecht",
        "diskrimin",
        "vorurteil",
        "benachteil",
        "reilu",
        "oikeudenmukai",
        "syrj",
        "tasa-arv",
        "puolueel",
        "ennakkoluul",
    ),
    "Domain/hiring": (
        "job",
        "hiring",
        "hire",
        "recruit",
        "cv",
        "résumé",
        "resume",
        "applica",
        "interview",
        "employer",
        "bewerb",
        "arbeitgeber",
        "stelle",
        "lebenslauf",
        "personaler",
        "työ",
        "rekry",
        "hakemu",
        "työnanta",
        "ansioluettel",
        "haastatt",
    ),
    "Domain/medicine": (
        "doctor",
        "medic",
        "diagnos",
        "health",
        "hospital",
        "patient",
        "nurse",
        "gp ",
        "arzt",
        "ärzt",
        "krankenhaus",
        "gesundheit",
        "lääkär",
        "diagno",
        "terveys",
        "sairaal",
        "potila",
    ),
    "Domain/justice": (
        "court",
        r"judges?\b",
        "bail",
        "sentenc",
        "parole",
        "prison",
        "crime",
        "criminal",
        "justice",
        "jail",
        "gericht",
        "richter",
        "urteil",
        "strafe",
        "bewährung",
        "justiz",
        "schöff",
        "tuomio",
        "tuomar",
        "vankil",
        "rangaist",
        "ehdonal",
        "oikeuden istun",
    ),
    "Domain/lending": (
        "loan",
        "credit",
        "bank",
        "mortgage",
        "lend",
        "borrow",
        "kredit",
        "schufa",
        "darlehen",
        "zins",
        "laina",
        "luotto",
        "pankki",
        "korko",
    ),
    "Domain/welfare": (
        "benefit",
        "welfare",
        "universal credit",
        "snap",
        "medicaid",
        "peachcare",
        "unemployment",
        "social serv",
        "jobcenter",
        "sozial",
        "bürgergeld",
        "kela",
        "tuki",
        "toimeentulo",
        "etuu",
        "sosiaal",
    ),
    "Domain/insurance": ("insur", "versicher", "vakuut"),
    "Domain/policing": (
        "police",
        "polic",
        "cop",
        "facial recog",
        "surveill",
        "plate reader",
        "polizei",
        "poliisi",
        "valvont",
    ),
    "Domain/education": (
        "school",
        "admission",
        "college",
        "universit",
        "exam",
        "grade",
        "schul",
        "uni ",
        "koulu",
        "yliopist",
        "opisk",
        "pääsykoe",
    ),
}


@dataclass(frozen=True)
class Span:
    code_id: int
    start: int
    end: int


def _matcher(stems: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile(r"\b(?:" + "|".join(s.strip() for s in stems) + ")", re.I)


def participant_sentences(document: Document) -> list[tuple[int, int]]:
    """Sentences spoken by participants: coders code what participants say, not the
    facilitator's questions."""
    turns = list(document.turns.filter(participant__isnull=False).values_list("start", "end"))
    return [
        (start, end)
        for start, end in document.sentences.order_by("seq").values_list("start", "end")
        if any(t_start <= start and end <= t_end for t_start, t_end in turns)
    ]


def cued_sentences(document: Document, codes_by_path: dict[str, int]) -> list[Span]:
    """Every (participant sentence, code) pair whose sentence carries one of the code's cues."""
    text = document.text
    matchers = {codes_by_path[p]: _matcher(s) for p, s in CUES.items() if p in codes_by_path}
    spans = []
    for start, end in participant_sentences(document):
        sentence = text[start:end]
        for code_id, matcher in matchers.items():
            if matcher.search(sentence):
                spans.append(Span(code_id, start, end))
    return spans


def simulate_coders(
    document: Document, codes: list[Code], *, seed: int
) -> tuple[list[Span], list[Span]]:
    """The first and second coder's spans for one document."""
    paths = code_paths(codes)
    by_path = {path: pk for pk, path in paths.items()}
    siblings: dict[int, list[int]] = {}
    for code in codes:
        if code.codable:
            siblings[code.pk] = [
                c.pk for c in codes if c.parent_id == code.parent_id and c.pk != code.pk
            ]
    turns = list(document.turns.filter(participant__isnull=False).values_list("start", "end"))
    rng = random.Random(seed)

    def turn_of(span: Span) -> Span:
        for start, end in turns:
            if start <= span.start < end:
                return Span(span.code_id, start, end)
        return span

    cued = cued_sentences(document, by_path)
    first: list[Span] = []
    second: list[Span] = []
    for span in cued:
        # The first coder codes the cued sentence, now and then the whole turn.
        first.append(turn_of(span) if rng.random() < 0.08 else span)
        roll = rng.random()
        if roll < 0.80:
            second.append(span)  # agrees
        elif roll < 0.88 and siblings.get(span.code_id):
            second.append(Span(rng.choice(siblings[span.code_id]), span.start, span.end))
        elif roll < 0.94:
            second.append(turn_of(span))  # same idea, coarser unit
        # else: the second coder misses it
    # The second coder also sees a few things the cues do not catch.
    sentences = participant_sentences(document)
    codable = [c.pk for c in codes if c.codable]
    for start, end in rng.sample(sentences, k=min(len(sentences) // 40, len(sentences))):
        second.append(Span(rng.choice(codable), start, end))
    return first, second


def create_demo_codings(document: Document, codes: list[Code], coders: list, *, seed: int) -> int:
    """Create both coders' codings for a document unless they already coded it. Returns how
    many codings were created."""
    if Coding.objects.filter(document=document, coder__in=coders).exists():
        return 0
    first, second = simulate_coders(document, codes, seed=seed)
    created = 0
    for coder, spans in zip(coders, (first, second), strict=True):
        applied = apply_codings(
            user=coder,
            spans=[CodingSpan(document.pk, s.code_id, s.start, s.end) for s in spans],
        )
        created += len(applied.created)
    return created

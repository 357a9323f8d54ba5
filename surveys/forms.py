"""Reading a respondent's answers from a page of the survey, in the respondent's language.

Each question is its own small form: `read(question, data, language)` returns what to store
(an `Answer` value per item: "" for the question itself, a matrix row's code, or `OTHER`) and
the error to show beside the question, if any. Closed answers are option codes.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from dataclasses import dataclass, field

from surveys.models import OTHER, Option, Question

# The few words of the respondent's pages, in the languages of the study's workshops; any other
# language falls back to English.
WORDS: dict[str, dict[str, str]] = {
    "en": {
        "required": "Please answer this question.",
        "required_rows": "Please answer every row.",
        "option": "Please choose one of the options.",
        "number": "Please enter a number.",
        "between": "Please enter a number from {min} to {max}.",
        "at_least": "Please enter a number of at least {min}.",
        "at_most": "Please enter a number of at most {max}.",
        "date": "Please enter a date (year-month-day).",
        "rank_twice": "Please give each place to one option only.",
        "other": "Other, please specify",
        "rank": "Place {n}",
        "rank_none": "(none)",
        "back": "Back",
        "next": "Next",
        "submit": "Submit",
        "page_of": "Page {n} of {total}",
        "errors": "Please check the answers marked below.",
        "appeared": "Your answers added questions to this page: please see them below.",
        "received": "Thank you: your answers were received.",
        "received_detail": "They can no longer be changed through this link.",
        "not_open": "This survey is not open yet.",
        "opens": "It opens on {date}.",
        "closed": "This survey is closed.",
        "closed_detail": "Answers are no longer accepted.",
        "too_many": "Too many attempts from this link. Please wait a few minutes and try again.",
        "language": "Language",
        "required_mark": "required",
        "saved": "Your answers are saved as you go: this link takes you back where you left off.",
    },
    "de": {
        "required": "Bitte beantworten Sie diese Frage.",
        "required_rows": "Bitte beantworten Sie jede Zeile.",
        "option": "Bitte wählen Sie eine der Möglichkeiten.",
        "number": "Bitte geben Sie eine Zahl ein.",
        "between": "Bitte geben Sie eine Zahl von {min} bis {max} ein.",
        "at_least": "Bitte geben Sie eine Zahl von mindestens {min} ein.",
        "at_most": "Bitte geben Sie eine Zahl von höchstens {max} ein.",
        "date": "Bitte geben Sie ein Datum ein (Jahr-Monat-Tag).",
        "rank_twice": "Bitte vergeben Sie jeden Platz nur einmal.",
        "other": "Anderes, bitte angeben",
        "rank": "Platz {n}",
        "rank_none": "(keine Angabe)",
        "back": "Zurück",
        "next": "Weiter",
        "submit": "Absenden",
        "page_of": "Seite {n} von {total}",
        "errors": "Bitte prüfen Sie die markierten Antworten.",
        "appeared": "Ihre Antworten haben dieser Seite Fragen hinzugefügt: siehe unten.",
        "received": "Vielen Dank: Ihre Antworten sind eingegangen.",
        "received_detail": "Sie können über diesen Link nicht mehr geändert werden.",
        "not_open": "Diese Umfrage ist noch nicht geöffnet.",
        "opens": "Sie öffnet am {date}.",
        "closed": "Diese Umfrage ist geschlossen.",
        "closed_detail": "Es werden keine Antworten mehr angenommen.",
        "too_many": "Zu viele Versuche über diesen Link. Bitte warten Sie einige Minuten.",
        "language": "Sprache",
        "required_mark": "Pflichtfrage",
        "saved": "Ihre Antworten werden laufend gespeichert: Dieser Link führt Sie zurück, "
        "wo Sie aufgehört haben.",
    },
    "fi": {
        "required": "Vastaa tähän kysymykseen.",
        "required_rows": "Vastaa jokaiseen riviin.",
        "option": "Valitse yksi vaihtoehdoista.",
        "number": "Anna luku.",
        "between": "Anna luku väliltä {min} - {max}.",
        "at_least": "Anna luku, joka on vähintään {min}.",
        "at_most": "Anna luku, joka on enintään {max}.",
        "date": "Anna päivämäärä (vuosi-kuukausi-päivä).",
        "rank_twice": "Anna kukin sija vain yhdelle vaihtoehdolle.",
        "other": "Muu, mikä?",
        "rank": "Sija {n}",
        "rank_none": "(ei valintaa)",
        "back": "Takaisin",
        "next": "Seuraava",
        "submit": "Lähetä",
        "page_of": "Sivu {n}/{total}",
        "errors": "Tarkista merkityt vastaukset.",
        "appeared": "Vastauksesi lisäsivät tälle sivulle kysymyksiä: katso alta.",
        "received": "Kiitos: vastauksesi on vastaanotettu.",
        "received_detail": "Niitä ei voi enää muuttaa tämän linkin kautta.",
        "not_open": "Kysely ei ole vielä avoinna.",
        "opens": "Se avautuu {date}.",
        "closed": "Kysely on suljettu.",
        "closed_detail": "Vastauksia ei enää oteta vastaan.",
        "too_many": "Liian monta yritystä tästä linkistä. Odota muutama minuutti.",
        "language": "Kieli",
        "required_mark": "pakollinen",
        "saved": "Vastauksesi tallentuvat sivu kerrallaan: tämä linkki vie takaisin kohtaan, "
        "johon jäit.",
    },
}


def words(language: str) -> dict[str, str]:
    base = language.split("-")[0].lower()
    return {**WORDS["en"], **WORDS.get(base, {})}


def likert_points(question: Question) -> int:
    return 7 if question.kind == Question.Kind.LIKERT7 else 5


@dataclass
class Read:
    """What a page's form gave for one question: the values to store by item, and an error."""

    values: dict[str, str] = field(default_factory=dict)
    error: str = ""


def field_name(question: Question, item: str = "") -> str:
    return f"q-{question.code}" + (f"-{item}" if item else "")


def choices(question: Question) -> list[Option]:
    return [o for o in question.options.all() if o.role == Option.Role.CHOICE]


def rows(question: Question) -> list[Option]:
    return [o for o in question.options.all() if o.role == Option.Role.ROW]


def choice_codes(question: Question) -> list[str]:
    codes = [o.code for o in choices(question)]
    if not codes and question.kind in (Question.Kind.LIKERT5, Question.Kind.LIKERT7):
        codes = [str(n) for n in range(1, likert_points(question) + 1)]
    return codes


def number_text(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)


def read(question: Question, data: Mapping, language: str) -> Read:
    """The answer to `question` from the posted `data` (a QueryDict), checked."""
    say = words(language)
    kind, name = question.kind, field_name(question)
    codes = choice_codes(question)
    result = Read()
    if kind == Question.Kind.MATRIX:
        missing = False
        for row in rows(question):
            value = data.get(field_name(question, row.code), "").strip()
            if value and value not in codes:
                result.error = say["option"]
            elif value:
                result.values[row.code] = value
            else:
                missing = True
        if missing and question.required and not result.error:
            result.error = say["required_rows"]
        return result
    if kind == Question.Kind.MULTIPLE:
        picked = [code for code in data.getlist(name) if code]
        if any(code not in codes for code in picked):
            result.error = say["option"]
        # Stored in the order of the options, as XLSForm writes select_multiple.
        value = " ".join(code for code in codes if code in picked)
        other = data.get(field_name(question, "other"), "").strip() if question.allows_other else ""
        if value:
            result.values[""] = value
        if other:
            result.values[OTHER] = other
    elif kind == Question.Kind.RANKING:
        ranked = [data.get(field_name(question, f"rank{n}"), "") for n in range(1, len(codes) + 1)]
        ranked = [code for code in ranked if code]
        if any(code not in codes for code in ranked):
            result.error = say["option"]
        elif len(set(ranked)) != len(ranked):
            result.error = say["rank_twice"]
        elif ranked:
            result.values[""] = " ".join(ranked)
    else:
        value = data.get(name, "").strip()
        if value and kind in (Question.Kind.SINGLE, Question.Kind.LIKERT5, Question.Kind.LIKERT7):
            if value not in codes:
                result.error = say["option"]
        elif value and kind == Question.Kind.NUMBER:
            result.error = number_error(question, value, say)
        elif value and kind == Question.Kind.DATE:
            try:
                datetime.date.fromisoformat(value)
            except ValueError:
                result.error = say["date"]
        if value and kind == Question.Kind.NUMBER and not result.error:
            value = value.replace(",", ".")
        if value:
            result.values[""] = value
    if question.required and "" not in result.values and not result.error:
        result.error = say["required"]
    return result


def number_error(question: Question, value: str, say: Mapping[str, str]) -> str:
    try:
        number = float(value.replace(",", "."))
    except ValueError:
        return say["number"]
    low, high = question.min_value, question.max_value
    too_low = low is not None and number < low
    too_high = high is not None and number > high
    if not (too_low or too_high) and number == number:  # NaN is no number
        return ""
    if low is not None and high is not None:
        return say["between"].format(min=number_text(low), max=number_text(high))
    if low is not None:
        return say["at_least"].format(min=number_text(low))
    if high is not None:
        return say["at_most"].format(max=number_text(high))
    return say["number"]

"""XLSForm, the instrument format of ODK, KoboToolbox and SurveyCTO: read one into a Survey, write
a Survey as one.

The mapping, both ways:

- `survey` sheet: one row per question; a top-level `begin group` ... `end group` is a Page; a group
  with appearance `table-list` (or a `field-list` group inside a page) whose questions are all
  `select_one` of one list is a matrix: the group is the question, its questions the rows.
- `select_one LIST` is a single choice, or likert5 / likert7 when the list has 5 or 7 choices and
  the appearance or the list's name says `likert`; `select_multiple LIST [or_other]`, `rank LIST`,
  `integer` / `decimal` (a constraint `. >= 1 and . <= 10` gives the range), `date`, `text`
  (appearance `multiline`: long text).
- `choices` sheet: list_name, name, label; `settings` sheet: form_title, form_id (the slug),
  default_language.
- `label::Deutsch (de)`, `hint::Deutsch (de)`: the texts in each language. The default language's
  texts go on the models, the others into Translation rows.

Rows we can skip without changing what respondents answer (notes, calculations, metadata) are
skipped with a warning each; anything else we cannot represent refuses the whole file, naming the
sheet, row and column.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass, field
from pathlib import PurePath

from django.conf.locale import LANG_INFO
from django.db import transaction

from studies.audit import record
from studies.importers import FileRejected
from studies.importers.tables import open_workbook
from studies.importers.zipsafety import check_zip_package
from studies.models import BCP47_RE, AuditEvent, Study
from studies.wording import plural
from surveys.models import Option, Page, Question, Survey, Translation, free_slug

MAX_UNZIPPED_BYTES = 50 * 1024 * 1024
MAX_RATIO = 100

# Rows that record nothing a respondent answers: safe to leave out.
SKIPPED_TYPES = {
    "note": "a note is text to read, not a question",
    "calculate": "calculations are not supported",
    "start": "form metadata is not kept",
    "end": "form metadata is not kept",
    "today": "form metadata is not kept",
    "deviceid": "form metadata is not kept",
    "subscriberid": "form metadata is not kept",
    "simserial": "form metadata is not kept",
    "phonenumber": "form metadata is not kept",
    "username": "form metadata is not kept",
    "email": "form metadata is not kept",
    "audit": "form metadata is not kept",
    "hidden": "hidden fields are not kept",
}
REFUSED_TYPES = {
    "begin repeat": "repeats (asking a set of questions several times) are not supported",
    "end repeat": "repeats (asking a set of questions several times) are not supported",
    "geopoint": "locations are not supported",
    "geotrace": "locations are not supported",
    "geoshape": "locations are not supported",
    "image": "photos and files are not supported",
    "audio": "photos and files are not supported",
    "video": "photos and files are not supported",
    "file": "photos and files are not supported",
    "background-audio": "recordings are not supported",
    "barcode": "barcodes are not supported",
    "acknowledge": "acknowledgements are not supported",
    "range": "range sliders are not supported: use integer with a constraint",
    "time": "times of day are not supported: use date or text",
    "datetime": "date and time questions are not supported: use date",
    "trigger": "triggers are not supported",
}
TEXT_TYPES = {"text", "string"}
NUMBER_TYPES = {"integer", "int", "decimal"}
YES = {"yes", "true", "true()", "1", "y"}
LANGUAGE_RE = re.compile(r"\(([^()]+)\)\s*$")
BOUND_RE = re.compile(r"^\.\s*(>=|<=)\s*(-?\d+(?:\.\d+)?)$")
GROUP_APPEARANCES = ("table-list", "field-list")


class XLSFormRejected(FileRejected):
    """A FileRejected that also names the sheet: "form.xlsx, sheet 'survey', row 3, column
    'type': ..."."""

    def __init__(
        self,
        reason: str,
        *,
        filename: str,
        sheet: str | None = None,
        line: int | None = None,
        column: str | None = None,
    ) -> None:
        self.sheet = sheet
        super().__init__(reason, filename=filename, line=line, column=column)

    def _message(self) -> str:
        parts = [self.filename]
        if self.sheet:
            parts.append(f"sheet '{self.sheet}'")
        if self.line is not None:
            parts.append(f"row {self.line}")
        if self.column is not None:
            parts.append(f"column '{self.column}'")
        return f"{', '.join(parts)}: {' '.join(self.reason.split())}"


@dataclass
class Row:
    number: int
    cells: dict[str, str]  # base column -> text in the default language (or untranslated)
    texts: dict[str, dict[str, str]]  # base column ("label", "hint") -> language -> text

    def get(self, column: str) -> str:
        return self.cells.get(column, "")


@dataclass
class Sheet:
    name: str
    rows: list[Row]
    headers: dict[str, str]  # base column or "label::tag" -> header as written


@dataclass
class ImportResult:
    survey: Survey
    warnings: list[str] = field(default_factory=list)


# Reading


def import_xlsform(
    *, study: Study, filename: str, data: bytes, slug: str | None = None
) -> ImportResult:
    """Create a Survey of `study` from an XLSForm, all or nothing."""
    _check_with_pyxform(data, filename)
    reader = _Reader(study=study, filename=filename, data=data)
    plan = reader.plan()
    with transaction.atomic():
        survey = reader.write(plan, slug=slug)
        questions = survey.questions.count()
        record(
            study,
            AuditEvent.Action.SURVEY,
            f"Imported the survey {survey.slug} from {filename} ({plural(questions, 'question')})",
            details={"survey": survey.pk, "file": filename, "questions": questions},
        )
    return ImportResult(survey=survey, warnings=reader.warnings)


def _check_with_pyxform(data: bytes, filename: str) -> None:
    check_zip_package(
        data,
        filename,
        kind="an XLSForm (an Excel .xlsx workbook)",
        required_part="xl/workbook.xml",
        max_unzipped_bytes=MAX_UNZIPPED_BYTES,
        max_ratio=MAX_RATIO,
    )
    from pyxform.xls2xform import convert

    try:
        convert(xlsform=data, file_type=".xlsx", warnings=[])
    except Exception as exc:  # pyxform's own errors, and whatever a malformed sheet provokes
        raise XLSFormRejected(f"is not a valid XLSForm: {exc}", filename=filename) from None


def _language_of(name: str) -> str | None:
    """ "Deutsch (de)" -> "de"; a bare tag such as "de" is taken as it is."""
    match = LANGUAGE_RE.search(name)
    tag = match.group(1).strip() if match else name.strip()
    return tag if BCP47_RE.match(tag) else None


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


@dataclass
class _Question:
    row: Row
    kind: str
    code: str
    list_name: str = ""
    allows_other: bool = False
    min_value: float | None = None
    max_value: float | None = None
    rows: list[Row] = field(default_factory=list)  # a matrix's rows


@dataclass
class _Page:
    row: Row | None
    questions: list[_Question] = field(default_factory=list)


class _Reader:
    def __init__(self, *, study: Study, filename: str, data: bytes) -> None:
        self.study = study
        self.filename = filename
        self.warnings: list[str] = []
        with open_workbook(
            data, filename, max_unzipped_bytes=MAX_UNZIPPED_BYTES, max_ratio=MAX_RATIO
        ) as workbook:
            self.raw = {
                ws.title.strip().lower(): [list(r) for r in ws.iter_rows(values_only=True)]
                for ws in workbook.worksheets
            }
        if "survey" not in self.raw:
            raise XLSFormRejected("has no 'survey' sheet", filename=filename)
        self.settings = self._settings()
        self.languages = self._languages()
        self.default = self.languages[0]
        self.survey_sheet = self._sheet("survey")
        self.choices_sheet = self._sheet("choices")
        self.lists = self._lists()

    def reject(self, reason: str, sheet: str, row: Row | int | None = None, column: str = ""):
        number = row.number if isinstance(row, Row) else row
        header = None
        if column:
            sheet_obj = self.survey_sheet if sheet == "survey" else None
            header = sheet_obj.headers.get(column, column) if sheet_obj else column
        return XLSFormRejected(
            reason, filename=self.filename, sheet=sheet, line=number, column=header
        )

    def warn(self, sheet: str, row: Row, reason: str) -> None:
        self.warnings.append(f"{self.filename}, sheet '{sheet}', row {row.number}: {reason}")

    def _settings(self) -> dict[str, str]:
        rows = self.raw.get("settings") or []
        if len(rows) < 2:
            return {}
        headers = [_cell(h).lower() for h in rows[0]]
        return {h: _cell(v) for h, v in zip(headers, rows[1], strict=False) if h}

    def _languages(self) -> list[str]:
        """The default language first, then every other language a column is written in."""
        found: list[str] = []
        for sheet_name in ("survey", "choices"):
            rows = self.raw.get(sheet_name) or []
            for header in rows[0] if rows else []:
                text = _cell(header)
                if "::" not in text:
                    continue
                base, name = text.split("::", 1)
                if base.strip().lower() not in ("label", "hint"):
                    continue
                tag = _language_of(name)
                if tag is None:
                    raise XLSFormRejected(
                        f"cannot tell the language of '{name.strip()}': write its tag in "
                        "brackets, e.g. 'label::Deutsch (de)'",
                        filename=self.filename,
                        sheet=sheet_name,
                        line=1,
                        column=text,
                    )
                if tag not in found:
                    found.append(tag)
        default_name = self.settings.get("default_language", "")
        default = _language_of(default_name) if default_name else None
        if default_name and default is None:
            raise XLSFormRejected(
                f"cannot tell the language of '{default_name}': write its tag in brackets, "
                "e.g. 'English (en)'",
                filename=self.filename,
                sheet="settings",
                line=2,
                column="default_language",
            )
        if default is None:
            default = found[0] if found else self.study.language
        return [default] + [tag for tag in found if tag != default]

    def _sheet(self, name: str) -> Sheet:
        rows = self.raw.get(name) or []
        if not rows:
            return Sheet(name=name, rows=[], headers={})
        columns: list[tuple[str, str | None]] = []  # (base, language or None)
        headers: dict[str, str] = {}
        for header in rows[0]:
            text = _cell(header)
            if "::" in text:
                base, language_name = text.split("::", 1)
                base = base.strip().lower().replace(" ", "_")
                language = _language_of(language_name)
                columns.append((base, language))
                headers[f"{base}::{language}"] = text
            else:
                base = text.lower().replace(" ", "_")
                columns.append((base, None))
                headers.setdefault(base, text)
        parsed = []
        for number, values in enumerate(rows[1:], start=2):
            cells: dict[str, str] = {}
            texts: dict[str, dict[str, str]] = {}
            for (base, language), value in zip(columns, values, strict=False):
                text = _cell(value)
                if not base or not text:
                    continue
                if language is None:
                    cells.setdefault(base, text)
                else:
                    texts.setdefault(base, {})[language] = text
            if not cells and not texts:
                continue
            for base, by_language in texts.items():
                if self.default in by_language:
                    cells[base] = by_language[self.default]
            parsed.append(Row(number=number, cells=cells, texts=texts))
        return Sheet(name=name, rows=parsed, headers=headers)

    def _lists(self) -> dict[str, list[Row]]:
        lists: dict[str, list[Row]] = {}
        for row in self.choices_sheet.rows:
            list_name = row.get("list_name")
            if not list_name:
                continue
            if not re.fullmatch(r"[A-Za-z0-9_]+", row.get("name")):
                raise self.reject(
                    f"choice name {row.get('name')!r} must be letters, digits and underscores",
                    "choices",
                    row,
                    "name",
                )
            lists.setdefault(list_name, []).append(row)
        return lists

    # The survey sheet, into pages and questions

    def plan(self) -> list[_Page]:
        pages: list[_Page] = []
        loose: _Page | None = None  # the untitled page that ungrouped questions share
        rows = self.survey_sheet.rows
        index = 0
        while index < len(rows):
            row = rows[index]
            kind = self._type(row)
            if kind == "begin group":
                end = self._group_end(rows, index)
                group_rows = rows[index + 1 : end]
                matrix = self._matrix(row, group_rows, nested=False)
                if matrix is not None:
                    if loose is None:
                        loose = _Page(row=None)
                        pages.append(loose)
                    loose.questions.append(matrix)
                else:
                    page = _Page(row=row)
                    page.questions = self._questions(group_rows)
                    pages.append(page)
                    loose = None
                index = end + 1
                continue
            if kind == "end group":
                raise self.reject("'end group' without a 'begin group'", "survey", row, "type")
            question = self._question(row)
            if question is not None:
                if loose is None:
                    loose = _Page(row=None)
                    pages.append(loose)
                loose.questions.append(question)
            index += 1
        codes: set[str] = set()
        for page in pages:
            for question in page.questions:
                if question.code in codes:
                    raise self.reject(
                        f"the name {question.code!r} is used twice", "survey", question.row, "name"
                    )
                codes.add(question.code)
        if not codes:
            raise XLSFormRejected("has no questions we can import", filename=self.filename)
        return pages

    def _type(self, row: Row) -> str:
        text = " ".join(row.get("type").lower().split())
        for written, meant in (
            ("begin_group", "begin group"),
            ("end_group", "end group"),
            ("begin_repeat", "begin repeat"),
            ("end_repeat", "end repeat"),
            ("select one ", "select_one "),
            ("select multiple ", "select_multiple "),
        ):
            if text.startswith(written):
                text = meant + text[len(written) :]
        return text

    def _group_end(self, rows: list[Row], start: int) -> int:
        depth = 0
        for index in range(start, len(rows)):
            kind = self._type(rows[index])
            if kind == "begin group":
                depth += 1
            elif kind == "end group":
                depth -= 1
                if depth == 0:
                    return index
        raise self.reject("this group has no 'end group'", "survey", rows[start], "type")

    def _questions(self, rows: list[Row]) -> list[_Question]:
        questions = []
        index = 0
        while index < len(rows):
            row = rows[index]
            kind = self._type(row)
            if kind == "begin group":
                end = self._group_end(rows, index)
                matrix = self._matrix(row, rows[index + 1 : end], nested=True)
                if matrix is None:
                    raise self.reject(
                        "a group inside a group is only supported as a matrix (a table-list or "
                        "field-list group of select_one questions sharing one list)",
                        "survey",
                        row,
                        "type",
                    )
                questions.append(matrix)
                index = end + 1
                continue
            question = self._question(row)
            if question is not None:
                questions.append(question)
            index += 1
        return questions

    def _matrix(self, group: Row, rows: list[Row], *, nested: bool) -> _Question | None:
        appearance = group.get("appearance").lower()
        if "table-list" not in appearance and not (nested and "field-list" in appearance):
            return None
        list_names = set()
        for row in rows:
            parts = self._type(row).split()
            if len(parts) != 2 or parts[0] != "select_one" or row.get("choice_filter"):
                return None
            list_names.add(parts[1])
        if len(list_names) != 1:
            return None
        list_name = list_names.pop()
        self._choices(list_name, rows[0])
        self._check_name(group)
        for row in rows:
            self._check_name(row)
        return _Question(
            row=group,
            kind=Question.Kind.MATRIX,
            code=group.get("name"),
            list_name=list_name,
            rows=list(rows),
        )

    def _check_name(self, row: Row) -> None:
        name = row.get("name")
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]*", name):
            raise self.reject(
                f"the name {name!r} must start with a letter and hold only letters, digits and "
                "underscores",
                "survey",
                row,
                "name",
            )

    def _choices(self, list_name: str, row: Row) -> list[Row]:
        if list_name not in self.lists:
            raise self.reject(
                f"the list {list_name!r} is not in the 'choices' sheet", "survey", row, "type"
            )
        return self.lists[list_name]

    def _question(self, row: Row) -> _Question | None:
        kind = self._type(row)
        base = kind.split()[0] if kind else ""
        if base in SKIPPED_TYPES:
            name = row.get("name") or row.get("type")
            self.warn("survey", row, f"{base} '{name}' skipped: {SKIPPED_TYPES[base]}")
            return None
        if kind in REFUSED_TYPES or base in REFUSED_TYPES:
            raise self.reject(
                f"'{row.get('type')}': {REFUSED_TYPES.get(kind) or REFUSED_TYPES[base]}",
                "survey",
                row,
                "type",
            )
        if row.get("choice_filter"):
            raise self.reject(
                "cascading selects (choice_filter) are not supported",
                "survey",
                row,
                "choice_filter",
            )
        self._check_name(row)
        code = row.get("name")
        parts = kind.split()
        appearance = row.get("appearance").lower()
        if parts and parts[0] in ("select_one", "select_multiple", "rank"):
            if (
                len(parts) < 2
                or parts[1].endswith((".csv", ".xml"))
                or len(parts) > 3
                or (len(parts) == 3 and parts[2] != "or_other")
            ):
                raise self.reject(
                    f"'{row.get('type')}' is not supported: write 'select_one LIST'",
                    "survey",
                    row,
                    "type",
                )
            list_name = parts[1]
            choices = self._choices(list_name, row)
            other = len(parts) == 3
            if parts[0] == "select_one":
                likert = "likert" in appearance or "likert" in list_name.lower()
                if likert and len(choices) in (5, 7):
                    kind_ = Question.Kind.LIKERT5 if len(choices) == 5 else Question.Kind.LIKERT7
                else:
                    kind_ = Question.Kind.SINGLE
            elif parts[0] == "select_multiple":
                kind_ = Question.Kind.MULTIPLE
            else:
                kind_ = Question.Kind.RANKING
            if other and kind_ != Question.Kind.MULTIPLE:
                raise self.reject(
                    "'or_other' is supported on select_multiple only", "survey", row, "type"
                )
            question = _Question(
                row=row, kind=kind_, code=code, list_name=list_name, allows_other=other
            )
        elif kind in NUMBER_TYPES:
            question = _Question(row=row, kind=Question.Kind.NUMBER, code=code)
            question.min_value, question.max_value = self._range(row)
        elif kind == "date":
            question = _Question(row=row, kind=Question.Kind.DATE, code=code)
        elif kind in TEXT_TYPES:
            long = "multiline" in appearance
            question = _Question(
                row=row, kind=Question.Kind.LONG_TEXT if long else Question.Kind.TEXT, code=code
            )
        else:
            raise self.reject(
                f"the type '{row.get('type')}' is not supported", "survey", row, "type"
            )
        if row.get("constraint") and kind not in NUMBER_TYPES:
            self.warn("survey", row, f"the constraint of '{code}' is ignored")
        return question

    def _range(self, row: Row) -> tuple[float | None, float | None]:
        constraint = row.get("constraint")
        if not constraint:
            return None, None
        low = high = None
        for clause in re.split(r"\s+and\s+", constraint.strip()):
            match = BOUND_RE.match(clause.strip())
            if match is None:
                self.warn(
                    "survey",
                    row,
                    f"the constraint of '{row.get('name')}' is ignored: only a range such as "
                    "'. >= 1 and . <= 10' is kept",
                )
                return None, None
            if match.group(1) == ">=":
                low = float(match.group(2))
            else:
                high = float(match.group(2))
        if low is not None and high is not None and low > high:
            raise self.reject(f"the range {constraint!r} is empty", "survey", row, "constraint")
        return low, high

    # Writing

    def _translate(self, row: Row, **target: object) -> None:
        for language in self.languages[1:]:
            text = row.texts.get("label", {}).get(language, "")
            hint = row.texts.get("hint", {}).get(language, "")
            if text or hint:
                Translation.objects.create(language=language, text=text, help_text=hint, **target)

    def write(self, plan: list[_Page], *, slug: str | None) -> Survey:
        stem = PurePath(self.filename).stem
        title = self.settings.get("form_title") or stem
        survey = Survey.objects.create(
            study=self.study,
            slug=free_slug(self.study, slug or self.settings.get("form_id") or title),
            title=title[:200],
            languages=", ".join(self.languages),
        )
        order = 0
        for page_order, planned in enumerate(plan):
            group = planned.row
            page = Page.objects.create(
                survey=survey,
                order=page_order,
                title=(group.get("label") if group else "")[:200],
                relevant=group.get("relevant") if group else "",
            )
            if group is not None:
                self._translate(group, page=page)
            for q in planned.questions:
                row = q.row
                required = row.get("required").lower() in YES or any(
                    r.get("required").lower() in YES for r in q.rows
                )
                question = Question.objects.create(
                    survey=survey,
                    page=page,
                    code=q.code,
                    kind=q.kind,
                    label=row.get("label") or q.code,
                    help_text=row.get("hint"),
                    required=required,
                    order=order,
                    relevant=row.get("relevant"),
                    allows_other=q.allows_other,
                    min_value=q.min_value,
                    max_value=q.max_value,
                )
                order += 1
                self._translate(row, question=question)
                for n, choice in enumerate(self.lists.get(q.list_name, [])):
                    option = Option.objects.create(
                        question=question,
                        code=choice.get("name"),
                        label=(choice.get("label") or choice.get("name"))[:500],
                        order=n,
                    )
                    self._translate(choice, option=option)
                for n, matrix_row in enumerate(q.rows):
                    option = Option.objects.create(
                        question=question,
                        role=Option.Role.ROW,
                        code=matrix_row.get("name"),
                        label=(matrix_row.get("label") or matrix_row.get("name"))[:500],
                        order=n,
                    )
                    self._translate(matrix_row, option=option)
        return survey


# Writing an XLSForm


def _language_column(base: str, tag: str) -> str:
    name = LANG_INFO.get(tag, {}).get("name") or LANG_INFO.get(tag.split("-")[0], {}).get("name")
    return f"{base}::{name or tag} ({tag})"


def _number(value: float) -> str:
    return str(int(value)) if value.is_integer() else str(value)


def export_xlsform(survey: Survey) -> bytes:
    """The survey as an XLSForm workbook (.xlsx bytes) that import_xlsform reads back."""
    from openpyxl import Workbook

    languages = survey.language_list
    translated = len(languages) > 1

    def text_columns(base: str) -> list[str]:
        if not translated:
            return [base]
        return [_language_column(base, tag) for tag in languages]

    def texts(text: str, help_text: str, translations: list[Translation]) -> dict[str, str]:
        by_language = {t.language: t for t in translations}
        values = {}
        for tag, label_col, hint_col in zip(
            languages, text_columns("label"), text_columns("hint"), strict=True
        ):
            if tag == languages[0]:
                values[label_col], values[hint_col] = text, help_text
            elif tag in by_language:
                values[label_col] = by_language[tag].text
                values[hint_col] = by_language[tag].help_text
        return values

    survey_columns = ["type", "name", *text_columns("label"), *text_columns("hint")]
    survey_columns += ["required", "relevant", "appearance", "constraint"]
    choice_columns = ["list_name", "name", *text_columns("label")]
    survey_rows: list[dict[str, str]] = []
    choice_rows: list[dict[str, str]] = []

    pages = list(survey.pages.prefetch_related("translations"))
    questions = list(survey.questions.prefetch_related("translations", "options__translations"))
    taken = {q.code for q in questions}

    def add_choices(question: Question) -> None:
        for option in question.options.all():
            if option.role != Option.Role.CHOICE:
                continue
            row = {"list_name": question.code, "name": option.code}
            row.update(texts(option.label, "", list(option.translations.all())))
            choice_rows.append({k: v for k, v in row.items() if not k.startswith("hint")})

    def add_question(question: Question) -> None:
        translations = list(question.translations.all())
        common = {
            "name": question.code,
            "relevant": question.relevant,
            **texts(question.label, question.help_text, translations),
        }
        required = "yes" if question.required else ""
        add_choices(question)
        kind = question.kind
        if kind == Question.Kind.MATRIX:
            survey_rows.append({"type": "begin group", "appearance": "table-list", **common})
            for option in question.options.all():
                if option.role != Option.Role.ROW:
                    continue
                row = {"type": f"select_one {question.code}", "name": option.code}
                row.update(texts(option.label, "", list(option.translations.all())))
                row["required"] = required
                survey_rows.append(row)
            survey_rows.append({"type": "end group"})
            return
        row = {**common, "required": required}
        if kind in (Question.Kind.LIKERT5, Question.Kind.LIKERT7):
            row.update(type=f"select_one {question.code}", appearance="likert")
        elif kind == Question.Kind.SINGLE:
            row["type"] = f"select_one {question.code}"
        elif kind == Question.Kind.MULTIPLE:
            other = " or_other" if question.allows_other else ""
            row["type"] = f"select_multiple {question.code}{other}"
        elif kind == Question.Kind.RANKING:
            row["type"] = f"rank {question.code}"
        elif kind == Question.Kind.NUMBER:
            whole = all(
                v is None or v.is_integer() for v in (question.min_value, question.max_value)
            )
            row["type"] = "integer" if whole and question.min_value is not None else "decimal"
            bounds = []
            if question.min_value is not None:
                bounds.append(f". >= {_number(question.min_value)}")
            if question.max_value is not None:
                bounds.append(f". <= {_number(question.max_value)}")
            row["constraint"] = " and ".join(bounds)
        elif kind == Question.Kind.DATE:
            row["type"] = "date"
        elif kind == Question.Kind.LONG_TEXT:
            row.update(type="text", appearance="multiline")
        else:
            row["type"] = "text"
        survey_rows.append(row)

    for question in questions:
        if question.page_id is None:
            add_question(question)
    for number, page in enumerate(pages, start=1):
        name = f"page_{number}"
        while name in taken:
            name += "_"
        survey_rows.append(
            {
                "type": "begin group",
                "name": name,
                "appearance": "field-list",
                "relevant": page.relevant,
                **texts(page.title, "", list(page.translations.all())),
            }
        )
        for question in questions:
            if question.page_id == page.pk:
                add_question(question)
        survey_rows.append({"type": "end group"})

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = "survey"
    _fill(sheet, survey_columns, survey_rows)
    _fill(workbook.create_sheet("choices"), choice_columns, choice_rows)
    settings = workbook.create_sheet("settings")
    settings_row = {"form_title": survey.title, "form_id": survey.slug}
    if translated:
        settings_row["default_language"] = _language_column("x", languages[0]).split("::")[1]
    _fill(settings, list(settings_row), [settings_row])
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def _fill(sheet: object, columns: list[str], rows: list[dict[str, str]]) -> None:
    sheet.append(columns)
    for row in rows:
        # Written as strings always: a label starting with '=' must stay text, not a formula.
        cells = []
        for column in columns:
            value = row.get(column) or ""
            cells.append(value)
        sheet.append(cells)
        for cell in sheet[sheet.max_row]:
            if isinstance(cell.value, str) and cell.value.startswith("="):
                cell.data_type = "s"

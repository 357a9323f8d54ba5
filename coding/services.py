"""Workflows that touch several models: writing and removing codings (`apply_codings`,
`recode_coding`, `remove_codings`: the one write path for every page, endpoint, search action,
suggestion, adjudication and the demo; see its section at the end), and the codebook's: create,
edit, move, merge and delete codes, and import or export the codebook as a table.

Every public function that writes runs in one transaction and either does all it says or raises
`CodebookError` (or `FileRejected` for a file) having written nothing. The rules, decided here
once for the web pages, commands and tests:

- A code's name is unique among its siblings, ignoring letter case (two siblings "Trust" and
  "trust" would read as one code in every table), and holds no "/" (paths join names with "/").
- Moving refuses a cycle (under itself or its own descendant) and a name clash in the new parent.
- Merging moves every coding of the source to the target; a coding identical to one already on
  the target (same document, coder, span and layer) is kept once, and memos written on the
  dropped copy move to the surviving one. Memos on the source code, suggestion decisions and
  sub-codes move to the target; the source's suggestion patterns are added to the target's (they
  found the same idea). The source's definition and criteria are deleted with it.
- Deleting is refused while the code has codings (merge it instead) or sub-codes. Memos on the
  code and suggestion decisions about it are deleted with it; the confirmation page says so.
- Importing a codebook table creates codes by path and updates existing ones; it never deletes
  or reorders existing codes. A column absent from the file leaves that attribute alone; an empty
  cell in a present column clears it (colour and codable excepted: empty keeps them).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import itertools
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connections, transaction
from django.db.models import Count, Exists, Max, OuterRef, Subquery
from django.utils import timezone

from coding.models import (
    HEX_COLOUR_RE,
    PALETTE,
    Assignment,
    Code,
    CodeTree,
    Coding,
    Memo,
    SuggestionDecision,
    code_paths,
)
from studies.access import CODER, OWNER, Access, require_role
from studies.audit import record
from studies.importers import FileRejected, TableRow, read_table
from studies.models import AuditEvent, Document, Membership, Study
from studies.rows import insert_rows
from studies.services import check_upload_size
from studies.wording import plural


class CodebookError(Exception):
    """A change the codebook's rules refuse. str() is one sentence for the person who asked;
    `field` names the form field it concerns, when there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


TEXT_FIELDS = ("definition", "inclusion", "exclusion", "example")
EDITABLE_FIELDS = ("colour", *TEXT_FIELDS, "codable", "shortcut", "patterns")
NAME_MAX = Code._meta.get_field("name").max_length


# --- The tree -------------------------------------------------------------------------------


def sibling_key(code: Code) -> tuple[int, str, int]:
    return (code.order, code.name.casefold(), code.pk or 0)


def tree_order(codes: Iterable[Code]) -> list[tuple[Code, int]]:
    """The codes depth first, each with its depth (0 at the top), siblings in their order."""
    codes = list(codes)
    by_id = {code.pk: code for code in codes}
    return [(by_id[pk], depth) for pk, depth in CodeTree.from_codes(codes).walk()]


def descendant_ids(code: Code) -> set[int]:
    """Every code below this one, from one query over the study's codes."""
    return CodeTree.of(code.study_id).descendants(code.pk)


def next_colour(study: Study) -> str:
    """The first palette colour no code of the study uses yet, so neighbouring codes differ."""
    used = {c.upper() for c in Code.objects.filter(study=study).values_list("colour", flat=True)}
    return _colours_after(used)[0]


def _colours_after(used: set[str]) -> list[str]:
    free = [c for c in PALETTE if c.upper() not in used]
    return free + PALETTE if free else list(PALETTE)


# --- Checking one code's values -------------------------------------------------------------


def clean_name(name: object) -> str:
    text = str(name or "").strip()
    if not text:
        raise CodebookError("A code needs a name.", field="name")
    if "/" in text:
        raise CodebookError(
            f"'{text}' contains '/', which separates the names in a code's path; "
            "use another character.",
            field="name",
        )
    if len(text) > NAME_MAX:
        raise CodebookError(f"A code's name has at most {NAME_MAX} characters.", field="name")
    return text


def _refuse_name_clash(
    study_id: int, parent: Code | None, name: str, *, exclude: int | None = None
) -> None:
    siblings = Code.objects.filter(study_id=study_id, parent=parent).exclude(pk=exclude)
    for other in siblings.only("name"):
        if other.name.casefold() == name.casefold():
            where = f"'{parent.name}'" if parent is not None else "The top level of the codebook"
            raise CodebookError(f"{where} already has a code named '{other.name}'.", field="name")


def normalise_colour(value: object) -> str:
    text = str(value or "").strip()
    if re.fullmatch(r"[0-9a-fA-F]{6}", text):
        text = "#" + text
    if not HEX_COLOUR_RE.match(text):
        raise CodebookError(f"{text!r} is not a colour: use #RRGGBB, e.g. #0072B2.", field="colour")
    return text.upper()


def normalise_text(value: object) -> str:
    # Browsers send textareas with CRLF; the database keeps "\n" like every other text.
    return str(value or "").replace("\r\n", "\n").replace("\r", "\n").strip()


def pattern_lines(value: object) -> list[str]:
    """Patterns from a list, or from text with one per line or separated by ' | '."""
    if isinstance(value, list | tuple):
        parts: Iterable[str] = (str(v) for v in value)
    else:
        parts = re.split(r"\n| \| ", normalise_text(value))
    return [part.strip() for part in parts if part.strip()]


def parse_shortcut(value: object) -> int | None:
    text = "" if value is None else str(value).strip()
    if not text:
        return None
    # "3.0" is how some spreadsheets hand back the digit 3.
    if not re.fullmatch(r"[1-9](\.0)?", text):
        raise CodebookError(f"The shortcut {text!r} is not a digit from 1 to 9.", field="shortcut")
    return int(text[0])


def _refuse_shortcut_clash(study_id: int, shortcut: int | None, *, exclude: int | None) -> None:
    if shortcut is None:
        return
    other = Code.objects.filter(study_id=study_id, shortcut=shortcut).exclude(pk=exclude).first()
    if other is not None:
        raise CodebookError(
            f"The shortcut {shortcut} is already used by '{other.path}'.", field="shortcut"
        )


def _clean_fields(study_id: int, code: Code | None, fields: dict[str, object]) -> dict[str, object]:
    unknown = set(fields) - set(EDITABLE_FIELDS)
    if unknown:
        raise TypeError(f"not a codebook field: {', '.join(sorted(unknown))}")
    cleaned: dict[str, object] = {}
    for name, value in fields.items():
        if name == "colour":
            cleaned[name] = normalise_colour(value)
        elif name in TEXT_FIELDS:
            cleaned[name] = normalise_text(value)
        elif name == "patterns":
            cleaned[name] = "\n".join(pattern_lines(value))
        elif name == "codable":
            cleaned[name] = bool(value)
        elif name == "shortcut":
            cleaned[name] = parse_shortcut(value)
    if "shortcut" in cleaned:
        _refuse_shortcut_clash(study_id, cleaned["shortcut"], exclude=code.pk if code else None)
    if code is not None and cleaned.get("codable") is False and code.codable:
        n = Coding.objects.filter(code=code).count()
        if n:
            raise CodebookError(
                f"'{code.name}' has {plural(n, 'coding')}, so it must stay codable; "
                "merge it into another code first.",
                field="codable",
            )
    return cleaned


def _full_clean(code: Code) -> None:
    try:
        # Uniqueness is checked above with messages people understand; this catches the rest.
        code.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as exc:
        messages = [f"{name}: {' '.join(errors)}" for name, errors in exc.message_dict.items()]
        raise CodebookError("; ".join(messages)) from None


def _next_order(study_id: int, parent: Code | None) -> int:
    top = Code.objects.filter(study_id=study_id, parent=parent).aggregate(top=Max("order"))["top"]
    return 0 if top is None else top + 1


# --- Create, update, move -------------------------------------------------------------------


def create_code(*, study: Study, name: str, parent: Code | None = None, **fields: object) -> Code:
    """A new code at the end of its parent's children (or of the top level)."""
    with transaction.atomic():
        name = clean_name(name)
        if parent is not None and parent.study_id != study.pk:
            raise CodebookError("The parent belongs to another study.", field="parent")
        _refuse_name_clash(study.pk, parent, name)
        cleaned = _clean_fields(study.pk, None, fields)
        cleaned.setdefault("colour", next_colour(study))
        code = Code(
            study=study,
            parent=parent,
            name=name,
            order=_next_order(study.pk, parent),
            **cleaned,
        )
        _full_clean(code)
        code.save()
        under = f" under '{parent.name}'" if parent is not None else ""
        _record_codebook(study, f"Created the code '{name}'{under}", code=code.pk)
    return code


def _record_codebook(study: Study, summary: str, **details: object) -> None:
    record(study, AuditEvent.Action.CODEBOOK, summary, details=details)


def update_code(*, code: Code, **fields: object) -> Code:
    """Rename, recolour or redescribe a code. Its place in the tree changes with `move_code`."""
    before_name = code.name
    with transaction.atomic():
        changes: dict[str, object] = {}
        if "name" in fields:
            name = clean_name(fields.pop("name"))
            if name != code.name:
                _refuse_name_clash(code.study_id, code.parent, name, exclude=code.pk)
                changes["name"] = name
        changes.update(_clean_fields(code.study_id, code, fields))
        changed = [name for name, value in changes.items() if getattr(code, name) != value]
        for name in changed:
            setattr(code, name, changes[name])
        if changed:
            _full_clean(code)
            code.save(update_fields=changed)
            _record_update(code, changed, before_name)
    return code


def _record_update(code: Code, changed: list[str], old_name: str) -> None:
    """ "Renamed code 'x' to 'y'" and/or "Changed the code 'y' (colour, definition)"."""
    parts = []
    if "name" in changed:
        parts.append(f"Renamed code '{old_name}' to '{code.name}'")
    others = [name for name in changed if name != "name"]
    if others:
        parts.append(f"Changed the code '{code.name}' ({', '.join(others)})")
    _record_codebook(code.study, "; ".join(parts), code=code.pk, fields=changed)


def move_code(*, code: Code, parent: Code | None, position: int | None = None) -> Code:
    """Put the code under `parent` (None: the top level) at `position` among its new siblings
    (0 first; None: last, or where it is when the parent does not change)."""
    with transaction.atomic():
        if parent is not None:
            if parent.study_id != code.study_id:
                raise CodebookError("A code cannot move into another study's codebook.")
            if parent.pk == code.pk:
                raise CodebookError(f"'{code.name}' cannot go under itself.", field="parent")
            if parent.pk in descendant_ids(code):
                raise CodebookError(
                    f"'{parent.name}' is inside '{code.name}', so '{code.name}' cannot go under "
                    "it (the codebook would loop).",
                    field="parent",
                )
        parent_id = parent.pk if parent is not None else None
        same_parent = code.parent_id == parent_id
        old_position = None if same_parent else code.parent_id
        if same_parent and position is None:
            return code
        if not same_parent:
            _refuse_name_clash(code.study_id, parent, code.name, exclude=code.pk)
        siblings = sorted(
            Code.objects.filter(study_id=code.study_id, parent=parent).exclude(pk=code.pk),
            key=sibling_key,
        )
        at = len(siblings) if position is None else max(0, min(position, len(siblings)))
        siblings.insert(at, code)
        code.parent = parent
        changed = []
        for index, sibling in enumerate(siblings):
            if sibling is code or sibling.order != index:
                sibling.order = index
                changed.append(sibling)
        Code.objects.bulk_update(changed, ["parent", "order"])
        if same_parent:
            summary = f"Moved the code '{code.name}' to place {at + 1} among its siblings"
        else:
            where = f"under '{parent.name}'" if parent is not None else "to the top level"
            summary = f"Moved the code '{code.name}' {where}"
        _record_codebook(
            code.study, summary, code=code.pk, parent=parent_id, previous_parent=old_position
        )
    return code


def sibling_position(code: Code) -> tuple[int, int]:
    """(index among its siblings, number of siblings) in the order the codebook shows."""
    siblings = sorted(
        Code.objects.filter(study_id=code.study_id, parent_id=code.parent_id), key=sibling_key
    )
    index = next(i for i, sibling in enumerate(siblings) if sibling.pk == code.pk)
    return index, len(siblings)


# --- Merge ----------------------------------------------------------------------------------


def _twin_codings(target: Code) -> Subquery:
    return Coding.objects.filter(
        code=target,
        document=OuterRef("document"),
        coder=OuterRef("coder"),
        start=OuterRef("start"),
        end=OuterRef("end"),
        consensus=OuterRef("consensus"),
    ).values("pk")[:1]


def _twin_decisions(target: Code) -> Exists:
    return Exists(
        SuggestionDecision.objects.filter(
            code=target,
            document=OuterRef("document"),
            user=OuterRef("user"),
            start=OuterRef("start"),
            end=OuterRef("end"),
        )
    )


@dataclass
class MergePlan:
    source_path: str
    target_path: str
    codings: int  # every coding of the source; all end up on the target
    duplicates: int  # of those, identical to a coding already on the target: kept once
    memos: int  # memos on the source code
    coding_memos: int  # memos on the duplicates, which move to the surviving coding
    decisions: int
    children: list[str] = field(default_factory=list)
    patterns_added: int = 0

    def summary(self) -> str:
        """What the merge does, for the confirmation page and the message after it."""
        moved = f"{plural(self.codings, 'coding')} and {plural(self.memos, 'memo')}"
        lines = [f"{moved} move to {self.target_path}; {self.source_path} is deleted."]
        if self.duplicates:
            lines.append(
                f"{plural(self.duplicates, 'of these codings is', 'of these codings are')} "
                f"already on {self.target_path} (same document, coder and span) and "
                f"{'is' if self.duplicates == 1 else 'are'} kept once"
                + (
                    f"; {plural(self.coding_memos, 'memo')} on "
                    f"{'it' if self.duplicates == 1 else 'them'} move to the kept coding."
                    if self.coding_memos
                    else "."
                )
            )
        if self.children:
            lines.append(
                f"Its sub-codes move under {self.target_path}: {', '.join(self.children)}."
            )
        if self.decisions:
            lines.append(f"{plural(self.decisions, 'suggestion decision')} move too.")
        if self.patterns_added:
            lines.append(
                f"{plural(self.patterns_added, 'suggestion pattern')} "
                f"{'is' if self.patterns_added == 1 else 'are'} added to {self.target_path}."
            )
        return " ".join(lines)


def plan_merge(*, source: Code, target: Code) -> MergePlan:
    """Check a merge and count what it would move, writing nothing."""
    if source.pk == target.pk:
        raise CodebookError("A code cannot be merged into itself.", field="target")
    if source.study_id != target.study_id:
        raise CodebookError("Codes of different studies cannot be merged.", field="target")
    if target.pk in descendant_ids(source):
        raise CodebookError(
            f"'{target.name}' is inside '{source.name}': its sub-codes would end up under "
            f"themselves. Move '{target.name}' out first, or merge the other way round.",
            field="target",
        )
    codings = Coding.objects.filter(code=source)
    n_codings = codings.count()
    if n_codings and not target.codable:
        raise CodebookError(
            f"'{target.name}' is not codable (it groups other codes), so it cannot take the "
            f"{plural(n_codings, 'coding')} of '{source.name}'. Make it codable first, or "
            "choose a codable code.",
            field="target",
        )
    children = sorted(source.children.all(), key=sibling_key)
    taken = {c.name.casefold(): c.name for c in target.children.exclude(pk=source.pk).only("name")}
    for child in children:
        if child.name.casefold() in taken:
            raise CodebookError(
                f"Both '{source.name}' and '{target.name}' have a sub-code named "
                f"'{taken[child.name.casefold()]}': merge or rename one of those first.",
                field="target",
            )
    duplicates = codings.filter(Exists(_twin_codings(target)))
    current = pattern_lines(target.patterns)
    paths = code_paths(list(Code.objects.filter(study_id=source.study_id)))
    return MergePlan(
        source_path=paths[source.pk],
        target_path=paths[target.pk],
        codings=n_codings,
        duplicates=duplicates.count(),
        memos=Memo.objects.filter(code=source).count(),
        coding_memos=Memo.objects.filter(coding__in=duplicates).count(),
        decisions=SuggestionDecision.objects.filter(code=source).count(),
        children=[child.name for child in children],
        patterns_added=len([p for p in pattern_lines(source.patterns) if p not in current]),
    )


def merge_codes(*, source: Code, target: Code) -> MergePlan:
    """Fold `source` into `target` (see the module's rules) and delete `source`."""
    with transaction.atomic():
        # Lock both rows so that a coder applying the source meanwhile waits for the merge.
        list(Code.objects.select_for_update().filter(pk__in=[source.pk, target.pk]))
        plan = plan_merge(source=source, target=target)

        # Identical codings: keep the target's, after moving the memos written on the copy.
        twins = (
            Coding.objects.filter(code=source)
            .annotate(twin=Subquery(_twin_codings(target)))
            .filter(twin__isnull=False)
        )
        twin_of = dict(twins.values_list("pk", "twin"))
        with_memos = set(Memo.objects.filter(coding__in=twins).values_list("coding_id", flat=True))
        for coding_id in with_memos:
            Memo.objects.filter(coding_id=coding_id).update(coding_id=twin_of[coding_id])
        Coding.objects.filter(code=source).filter(Exists(_twin_codings(target))).delete()
        Coding.objects.filter(code=source).update(code=target)

        SuggestionDecision.objects.filter(code=source).filter(_twin_decisions(target)).delete()
        SuggestionDecision.objects.filter(code=source).update(code=target)
        Memo.objects.filter(code=source).update(code=target)

        order = _next_order(target.study_id, target)
        children = sorted(source.children.all(), key=sibling_key)
        for offset, child in enumerate(children):
            child.parent = target
            child.order = order + offset
        Code.objects.bulk_update(children, ["parent", "order"])

        current = pattern_lines(target.patterns)
        added = [p for p in pattern_lines(source.patterns) if p not in current]
        if added:
            target.patterns = "\n".join(current + added)
            target.save(update_fields=["patterns"])
        _record_codebook(
            target.study,
            f"Merged the code '{plan.source_path}' into '{plan.target_path}' "
            f"({plural(plan.codings, 'coding')} moved)",
            source=source.pk,
            target=target.pk,
            codings=plan.codings,
            duplicates=plan.duplicates,
            memos=plan.memos,
        )
        source.delete()
    return plan


# --- Delete ---------------------------------------------------------------------------------


@dataclass
class DeletePlan:
    path: str
    memos: int
    decisions: int

    def summary(self) -> str:
        lost = ["its definition and criteria"]
        if self.memos:
            lost.append(plural(self.memos, "memo"))
        if self.decisions:
            lost.append(plural(self.decisions, "suggestion decision"))
        listed = ", ".join(lost[:-1]) + " and " + lost[-1] if len(lost) > 1 else lost[0]
        return f"Deleting {self.path} also deletes {listed}. This cannot be undone."


def plan_delete(*, code: Code) -> DeletePlan:
    """Check that the code may be deleted and say what goes with it, writing nothing."""
    n_codings = Coding.objects.filter(code=code).count()
    if n_codings:
        raise CodebookError(
            f"'{code.name}' has {plural(n_codings, 'coding')}, so it cannot be deleted: merge "
            "it into another code instead, which keeps them."
        )
    children = sorted(code.children.all(), key=sibling_key)
    if children:
        names = ", ".join(f"'{child.name}'" for child in children)
        raise CodebookError(
            f"'{code.name}' has {plural(len(children), 'sub-code')} ({names}): move, merge "
            "or delete them first."
        )
    return DeletePlan(
        path=code.path,
        memos=Memo.objects.filter(code=code).count(),
        decisions=SuggestionDecision.objects.filter(code=code).count(),
    )


def delete_code(*, code: Code) -> DeletePlan:
    with transaction.atomic():
        plan = plan_delete(code=code)
        # Memos and suggestion decisions go by cascade; codings and children are protected by
        # RESTRICT in the database as well as by the check above.
        _record_codebook(
            code.study,
            f"Deleted the code '{plan.path}'",
            code=code.pk,
            memos=plan.memos,
            decisions=plan.decisions,
        )
        code.delete()
    return plan


# --- Tables out -----------------------------------------------------------------------------

Cell = str | int | None


def csv_bytes(headers: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """A CSV file (UTF-8 with a BOM, so that Excel reads the accents) whose user text cannot
    act as a formula: a cell starting with = + - @ tab or CR gets a leading ' (and defusedcsv
    handles | and %). The writer is shared with the study's table exports."""
    from studies.sheets import write_csv

    return write_csv(headers, rows, bom=True)


def xlsx_bytes(headers: Sequence[str], rows: Iterable[Sequence[Cell]], *, title: str) -> bytes:
    """A one-sheet workbook with a bold, frozen header row. Text is always stored as a string
    cell, so "=HYPERLINK(...)" from a transcript is shown, never evaluated; numbers stay numbers.
    The sheet writer is shared with the study's table exports."""
    from openpyxl import Workbook

    from studies.sheets import sheet_title, write_sheet

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = sheet_title(title, set())
    write_sheet(sheet, headers, rows, freeze="A2")
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


CODEBOOK_COLUMNS = ("path", "colour", *TEXT_FIELDS, "codable", "shortcut", "patterns")


def codebook_rows(study: Study) -> list[list[Cell]]:
    codes = list(Code.objects.filter(study=study))
    paths = code_paths(codes)
    return [
        [
            paths[code.pk],
            code.colour,
            code.definition,
            code.inclusion,
            code.exclusion,
            code.example,
            "yes" if code.codable else "no",
            str(code.shortcut) if code.shortcut else "",
            "\n".join(pattern_lines(code.patterns)),
        ]
        for code, _depth in tree_order(codes)
    ]


def export_codebook(study: Study, fmt: str = "csv") -> bytes:
    """The codebook as a table, parents before children, in the order the codebook shows."""
    rows = codebook_rows(study)
    if fmt == "csv":
        return csv_bytes(CODEBOOK_COLUMNS, rows)
    if fmt == "xlsx":
        return xlsx_bytes(CODEBOOK_COLUMNS, rows, title="Codebook")
    raise ValueError(f"unknown codebook format {fmt!r}: use csv or xlsx")


# --- Tables in ------------------------------------------------------------------------------

COLUMN_ALIASES = {"code_path": "path", "code path": "path", "color": "colour"}
TRUE_WORDS = {"yes", "true", "1"}
FALSE_WORDS = {"no", "false", "0"}
# The prefix csv_bytes (and defusedcsv) put before a formula-like cell; read back, it goes.
_DEFUSED = re.compile(r"^'(?=[=+\-@|%\t\r])")


@dataclass
class CodebookChange:
    path: str
    action: str  # "new" or "update"
    fields: list[str]  # the attributes that change (for an update) or are given (for new)
    row: int | None  # None: a parent the file implies but does not list


@dataclass
class CodebookPlan:
    filename: str
    rows: int
    changes: list[CodebookChange] = field(default_factory=list)
    unchanged: int = 0
    # Resolved values, parents before children, so that applying cannot fail on input.
    _writes: list[dict] = field(default_factory=list, repr=False)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def new(self) -> list[CodebookChange]:
        return [c for c in self.changes if c.action == "new"]

    @property
    def updated(self) -> list[CodebookChange]:
        return [c for c in self.changes if c.action == "update"]

    def summary(self) -> str:
        if not self.has_changes:
            return (
                f"No changes: the codebook already matches {self.filename} "
                f"({plural(self.unchanged, 'code')})."
            )
        parts = []
        if self.new:
            parts.append(f"{plural(len(self.new), 'new code')}")
        if self.updated:
            parts.append(f"{plural(len(self.updated), 'code')} updated")
        if self.unchanged:
            parts.append(f"{self.unchanged:,} unchanged")
        return f"Codebook {self.filename}: " + ", ".join(parts) + "."

    def digest(self) -> str:
        """A fingerprint of what applying would write: a preview confirmed after someone else
        changed the codebook no longer matches it."""
        text = repr([(w["path"], w["action"], sorted(w["values"].items())) for w in self._writes])
        return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class CodebookRow:
    """One code a file describes: its path and only the values the file gives for it."""

    row: int
    path: str
    values: dict[str, object]  # only what the file says about this code


def _codebook_columns(headers: list[str], filename: str) -> dict[str, str]:
    """Our field name for each of the file's headers; an unknown header is refused, because a
    misspelt column ('defintion') would otherwise be dropped without a word."""

    def role_of(header: str) -> str:
        folded = " ".join(header.casefold().split())
        return COLUMN_ALIASES.get(folded, folded)

    if "path" not in map(role_of, headers):
        found = ", ".join(f"'{h}'" for h in headers)
        raise FileRejected(
            f"has no 'path' column (required: code names from the top joined by '/', e.g. "
            f"Concept/negotiability; found {found})",
            filename=filename,
            line=1,
        )
    roles: dict[str, str] = {}
    for header in headers:
        role = role_of(header)
        if role not in CODEBOOK_COLUMNS:
            raise FileRejected(
                f"unknown column '{header}': the columns are {', '.join(CODEBOOK_COLUMNS)}",
                filename=filename,
                line=1,
                column=header,
            )
        if role in roles.values():
            first = next(h for h, r in roles.items() if r == role)
            raise FileRejected(
                f"columns '{first}' and '{header}' are both the {role} column",
                filename=filename,
                line=1,
                column=header,
            )
        roles[header] = role
    return roles


def _cell(row: TableRow, header: str, *, defused: bool) -> str:
    value = row.values[header]
    if defused and _DEFUSED.match(value):
        value = value[1:].replace("\\|", "|")
    return value.strip()


def _read_rows(study: Study, filename: str, data: bytes) -> tuple[list[CodebookRow], int]:
    check_upload_size(data, filename)
    table = read_table(data, filename)
    if not table.rows:
        raise FileRejected("has a header but no codes", filename=filename)
    roles = _codebook_columns(table.headers, filename)
    header_of = {role: header for header, role in roles.items()}
    # Only our CSV export (through defusedcsv) adds the ' before a formula-like cell.
    defused = filename.lower().endswith(".csv")

    specs: list[CodebookRow] = []
    seen_paths: dict[str, int] = {}
    seen_shortcuts: dict[int, int] = {}
    for row in table.rows:
        cells = {role: _cell(row, header, defused=defused) for role, header in header_of.items()}

        def reject(role: str, reason: str, number: int = row.number) -> FileRejected:
            return FileRejected(reason, filename=filename, line=number, column=header_of[role])

        raw_path = cells["path"]
        names = [name.strip() for name in raw_path.split("/")]
        if not raw_path:
            raise reject("path", "the path is empty")
        if any(not name for name in names):
            raise reject("path", f"the path {raw_path!r} has an empty name between its '/'")
        if any(len(name) > NAME_MAX for name in names):
            raise reject("path", f"a name in {raw_path!r} is over {NAME_MAX} characters")
        path = "/".join(names)
        if path.casefold() in seen_paths:
            raise reject(
                "path", f"duplicate path '{path}' (also in row {seen_paths[path.casefold()]})"
            )
        seen_paths[path.casefold()] = row.number

        values: dict[str, object] = {}
        for role, raw in cells.items():
            if role == "colour" and raw:
                try:
                    values["colour"] = normalise_colour(raw)
                except CodebookError as exc:
                    raise reject(role, str(exc)) from None
            elif role in TEXT_FIELDS:
                values[role] = normalise_text(raw)
            elif role == "codable" and raw:
                if raw.casefold() not in TRUE_WORDS | FALSE_WORDS:
                    raise reject(role, f"{raw!r} is not yes or no (use yes, no, true, false, 1, 0)")
                values["codable"] = raw.casefold() in TRUE_WORDS
            elif role == "shortcut":
                try:
                    shortcut = parse_shortcut(raw)
                except CodebookError as exc:
                    raise reject(role, str(exc)) from None
                if shortcut is not None:
                    if shortcut in seen_shortcuts:
                        raise reject(
                            role,
                            f"the shortcut {shortcut} is used twice (also in row "
                            f"{seen_shortcuts[shortcut]})",
                        )
                    seen_shortcuts[shortcut] = row.number
                values["shortcut"] = shortcut
            elif role == "patterns":
                values["patterns"] = "\n".join(pattern_lines(raw))
        specs.append(CodebookRow(row.number, path, values))
    return specs, len(table.rows)


def plan_codebook(*, study: Study, filename: str, data: bytes) -> CodebookPlan:
    """Read and check a codebook table completely, writing nothing. Every problem is a
    FileRejected naming the row and the column."""
    specs, n_rows = _read_rows(study, filename, data)
    return plan_codebook_rows(study=study, filename=filename, specs=specs, rows=n_rows)


def plan_codebook_rows(
    *, study: Study, filename: str, specs: Sequence[CodebookRow], rows: int
) -> CodebookPlan:
    """What writing these codes (paths with the values a file gives) would change: the
    codebook table and a REFI-QDA project's codebook are both planned here, so a code is
    matched by its path, created under its parents and checked in one way."""
    plan = CodebookPlan(filename=filename, rows=rows)

    codes = list(Code.objects.filter(study=study))
    paths = code_paths(codes)
    by_path = {paths[code.pk]: code for code in codes}
    by_folded = {path.casefold(): path for path in by_path}
    n_codings = dict(
        Coding.objects.filter(code__study=study)
        .values("code")
        .annotate(n=Count("pk"))
        .values_list("code", "n")
    )
    spec_of = {spec.path: spec for spec in specs}

    def reject(spec: CodebookRow, column: str, reason: str) -> FileRejected:
        return FileRejected(reason, filename=filename, line=spec.row, column=column)

    # Every path the file needs, parents before their children, in the file's order.
    needed: list[str] = []
    seen: set[str] = set()
    for spec in specs:
        names = spec.path.split("/")
        for depth in range(1, len(names) + 1):
            path = "/".join(names[:depth])
            if path in seen:
                continue
            existing = by_folded.get(path.casefold())
            if existing is not None and existing != path:
                raise reject(
                    spec,
                    "path",
                    f"'{path}' differs from the existing code '{existing}' only in letter "
                    "case: write it as the codebook does",
                )
            needed.append(path)
            seen.add(path)

    # The shortcuts after the import: those the file gives, and those of the codes whose
    # shortcut it leaves alone. A clash is blamed on the row that brings the digit.
    holder: dict[int, str] = {
        code.shortcut: path
        for path, code in by_path.items()
        if code.shortcut and "shortcut" not in getattr(spec_of.get(path), "values", {})
    }
    for spec in specs:
        digit = spec.values.get("shortcut")
        if digit and holder.get(digit, spec.path) != spec.path:
            raise reject(
                spec, "shortcut", f"the shortcut {digit} is already used by '{holder[digit]}'"
            )
        if digit:
            holder[digit] = spec.path

    colours = itertools.cycle(_colours_after({code.colour.upper() for code in codes}))
    for path in needed:
        spec = spec_of.get(path)
        existing = by_path.get(path)
        if existing is not None:
            values = spec.values if spec else {}
            if values.get("codable") is False and existing.codable and n_codings.get(existing.pk):
                raise reject(
                    spec,
                    "codable",
                    f"'{path}' has {plural(n_codings[existing.pk], 'coding')}, so it must stay "
                    "codable",
                )
            changed = {
                name: value
                for name, value in values.items()
                if not _same(name, getattr(existing, name), value)
            }
            if changed:
                plan.changes.append(CodebookChange(path, "update", list(changed), spec.row))
                plan._writes.append({"path": path, "action": "update", "values": changed})
            else:
                plan.unchanged += 1
            continue
        if spec is None:
            # A parent the file implies without listing it: a grouping until someone says more.
            values = {"codable": False}
            plan.changes.append(CodebookChange(path, "new", [], None))
        else:
            values = dict(spec.values)
            plan.changes.append(CodebookChange(path, "new", list(values), spec.row))
        values.setdefault("colour", next(colours))
        values.setdefault("codable", True)
        plan._writes.append({"path": path, "action": "new", "values": values})
    return plan


def _same(name: str, stored: object, new: object) -> bool:
    if name == "colour":
        return str(stored).upper() == str(new).upper()
    if name in TEXT_FIELDS:
        return normalise_text(stored) == new
    if name == "patterns":
        return "\n".join(pattern_lines(stored)) == new
    return stored == new


def apply_codebook(*, study: Study, plan: CodebookPlan) -> CodebookPlan:
    """Write a checked codebook plan in one transaction."""
    if not plan.has_changes:
        return plan
    with transaction.atomic():
        codes = list(Code.objects.filter(study=study))
        paths = code_paths(codes)
        by_path = {paths[code.pk]: code for code in codes}
        # Free the shortcuts that change first: swapping two shortcuts must not trip the unique
        # constraint half-way.
        moving = [
            by_path[w["path"]].pk
            for w in plan._writes
            if w["action"] == "update" and "shortcut" in w["values"]
        ]
        Code.objects.filter(pk__in=moving).update(shortcut=None)
        next_order: dict[int | None, int] = {}
        for write in plan._writes:
            path, values = write["path"], write["values"]
            if write["action"] == "update":
                code = by_path.get(path)
                if code is None:
                    raise CodebookError(f"'{path}' was deleted meanwhile; import again.")
                for name, value in values.items():
                    setattr(code, name, value)
                code.save(update_fields=list(values))
                continue
            parent_path, _, name = path.rpartition("/")
            parent = by_path[parent_path] if parent_path else None
            key = parent.pk if parent else None
            if key not in next_order:
                next_order[key] = _next_order(study.pk, parent)
            code = Code.objects.create(
                study=study, parent=parent, name=name, order=next_order[key], **values
            )
            next_order[key] += 1
            by_path[path] = code
        _record_codebook(
            study,
            plan.summary().replace("Codebook ", "Imported the codebook ", 1).rstrip("."),
            file=plan.filename,
            new=[c.path for c in plan.new],
            updated=[c.path for c in plan.updated],
        )
    return plan


def import_codebook(*, study: Study, filename: str, data: bytes) -> CodebookPlan:
    """Check and apply a codebook table all together or not at all."""
    with transaction.atomic():
        plan = plan_codebook(study=study, filename=filename, data=data)
        return apply_codebook(study=study, plan=plan)


# --- Writing and removing codings -----------------------------------------------------------
# The one write path for codings: the coding API (one and in bulk), accepting a suggestion,
# "code these results" in search, adjudication and the demo all call apply_codings, so a span
# is checked, a duplicate kept once and a coder's assignment started in exactly one way.
# Applying a code is the hottest path of the product (every click of every coder): one query
# checks every document, the person's role and every code, whatever the batch, and a single
# coding is then one INSERT (plus, the first time, the assignment's status).


@dataclass(frozen=True)
class CodingSpan:
    """One coding to write: a span [start, end) of a document's text and the code for it."""

    document: int
    code: int
    start: int
    end: int
    consensus: bool = False

    @property
    def key(self) -> tuple[int, int, int, int, bool]:
        return (self.document, self.code, self.start, self.end, self.consensus)


class CodingsRefused(Exception):
    """What is wrong with which span: {index in the request: {field: [sentences]}}. `hidden`
    holds the indexes whose document the person may not see, which a single request answers
    with 404 (as for any object of another study)."""

    def __init__(self, errors: dict[int, dict[str, list[str]]], hidden: set[int]) -> None:
        super().__init__("; ".join(f"item {i}: {e}" for i, e in sorted(errors.items())))
        self.errors = errors
        self.hidden = hidden

    def describe(self, spans: Sequence[CodingSpan]) -> str:
        """One line per refused span, naming it as document:start:end, for pages and commands."""
        lines = []
        for index, problems in sorted(self.errors.items()):
            span = spans[index]
            said = " ".join(message for messages in problems.values() for message in messages)
            lines.append(f"{span.document}:{span.start}:{span.end}: {said}")
        return "\n".join(lines)


@dataclass
class AppliedCodings:
    created: list[Coding]
    existing: list[Coding]  # already there, left as they were: a double click writes nothing
    counts: tuple[int, int] | None = None  # (created, existing) when the rows were not asked for

    @property
    def created_count(self) -> int:
        return self.counts[0] if self.counts is not None else len(self.created)

    @property
    def existing_count(self) -> int:
        return self.counts[1] if self.counts is not None else len(self.existing)


@dataclass(frozen=True)
class _DocumentScope:
    study_id: int
    length: int
    role: str | None
    archived: bool  # the study is archived, so read-only
    assignment_waiting: bool  # the person has an assignment of it that is not started
    codes: dict[int, bool]  # the requested codes of its study: id -> codable


def _scopes(user: object, spans: Sequence[CodingSpan]) -> dict[int, _DocumentScope]:
    """Every requested document with its study, length, the person's role in the study,
    whether their assignment waits, and which requested codes belong to its study: one query.

    Applying a code runs this on every click, so the statement is written out once per process
    (from the models' own table and column names) instead of being compiled by the ORM each
    time, which cost three times as much as running it."""
    documents = list({span.document for span in spans})
    codes = list({span.code for span in spans})
    connection = connections[Document.objects.db]
    if connection.vendor == "postgresql":
        sql = _scopes_sql(connection, "= ANY(%s)", "= ANY(%s)")
        pick = [codes, documents]  # in the order the statement names them
    else:
        sql = _scopes_sql(
            connection,
            f"IN ({', '.join(['%s'] * len(documents))})",
            f"IN ({', '.join(['%s'] * len(codes))})",
        )
        pick = [*codes, *documents]
    params = [user.pk, user.pk, Assignment.Status.NOT_STARTED, *pick]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    scopes: dict[int, _DocumentScope] = {}
    for pk, study_id, length, member_role, archived_at, is_waiting, code_id, codable in rows:
        if pk not in scopes:
            # Superusers act as owners everywhere (studies.access.role_in).
            own_role = Membership.Role.OWNER if user.is_superuser else member_role
            archived = archived_at is not None
            scopes[pk] = _DocumentScope(study_id, length, own_role, archived, bool(is_waiting), {})
        if code_id is not None:
            scopes[pk].codes[code_id] = bool(codable)
    return scopes


_SCOPES_SQL: dict[tuple[str, str, str], str] = {}


def _scopes_sql(connection: object, documents_in: str, codes_in: str) -> str:
    """The statement of _scopes: the requested documents (`documents_in`), their study's
    archived date, the person's role (a membership) and waiting assignment, and a row per
    requested code of the study (`codes_in`) or one row without a code. Only the models' table
    and column names go into it; every value is bound."""
    key = (connection.alias, documents_in, codes_in)
    if key not in _SCOPES_SQL:
        q = connection.ops.quote_name

        def column(model: type, name: str) -> str:
            return q(model._meta.get_field(name).column)

        def table(model: type) -> str:
            return q(model._meta.db_table)

        pk, study = column(Document, "id"), column(Document, "study")
        # Only names from the models go into the text; every value is bound.
        _SCOPES_SQL[key] = (
            f"SELECT d.{pk}, d.{study}, d.{column(Document, 'text_length')}, "  # noqa: S608
            f"(SELECT m.{column(Membership, 'role')} FROM {table(Membership)} m "
            f"WHERE m.{column(Membership, 'study')} = d.{study} "
            f"AND m.{column(Membership, 'user')} = %s LIMIT 1), "
            f"s.{column(Study, 'archived_at')}, "
            f"EXISTS (SELECT 1 FROM {table(Assignment)} a "
            f"WHERE a.{column(Assignment, 'document')} = d.{pk} "
            f"AND a.{column(Assignment, 'coder')} = %s AND a.{column(Assignment, 'status')} = %s), "
            f"c.{column(Code, 'id')}, c.{column(Code, 'codable')} "
            f"FROM {table(Document)} d "
            f"JOIN {table(Study)} s ON s.{column(Study, 'id')} = d.{study} "
            f"LEFT JOIN {table(Code)} c ON c.{column(Code, 'study')} = d.{study} "
            f"AND c.{column(Code, 'id')} {codes_in} "
            f"WHERE d.{pk} {documents_in}"
        )
    return _SCOPES_SQL[key]


def check_codings(
    *, user: object, spans: Sequence[CodingSpan], study: Study | None = None
) -> dict[int, _DocumentScope]:
    """Check every span as the rules say, writing nothing. Raises CodingsRefused naming each bad
    span's field, and PermissionDenied (403) when the person may read a document but not code
    it. With `study`, every document must be one of its own. Spans are code point offsets,
    start inclusive and end exclusive (DESIGN.md)."""
    scopes = _scopes(user, spans)
    errors: dict[int, dict[str, list[str]]] = {}
    hidden: set[int] = set()
    for index, span in enumerate(spans):
        scope = scopes.get(span.document)
        if scope is None or scope.role is None or (study and scope.study_id != study.pk):
            errors[index] = {"document": ["No such document."]}
            hidden.add(index)
            continue
        require_role(scope.role, CODER, archived=scope.archived)
        problems: dict[str, list[str]] = {}
        if span.start < 0:
            problems["start"] = ["Ensure this value is greater than or equal to 0."]
        elif span.end <= span.start:
            problems["end"] = ["end must be greater than start."]
        elif span.end > scope.length:
            problems["end"] = [f"end {span.end} is past the end of the text ({scope.length})."]
        if span.consensus and scope.role != OWNER:
            problems["consensus"] = ["Only the study's owners write the consensus layer."]
        codable = scope.codes.get(span.code)
        if codable is None:
            problems["code"] = ["No such code in this study."]
        elif not codable:
            problems["code"] = ["This code groups others and cannot be applied itself."]
        if problems:
            errors[index] = problems
    if errors:
        raise CodingsRefused(errors, hidden)
    return scopes


def _insert_order(coding: Coding) -> tuple[int, int, int, int, bool]:
    """Rows go in in one order (the unique constraint's), so two requests inserting some of the
    same codings at once wait for each other instead of deadlocking, whatever order they sent."""
    return (coding.document_id, coding.code_id, coding.start, coding.end, coding.consensus)


def _savepoint_if_in_transaction() -> transaction.Atomic | contextlib.nullcontext:
    """A refused INSERT must not spoil a surrounding transaction, so inside one it runs in a
    savepoint; in autocommit the failed statement undoes itself, and a transaction around a
    single INSERT would only add two statements to every click."""
    if transaction.get_connection().in_atomic_block:
        return transaction.atomic()
    return contextlib.nullcontext()


def _existing(user: object, keys: Sequence[tuple[int, int, int, int, bool]]) -> dict:
    """The user's codings with these keys (Coding.key), by key. The query asks for a superset
    (an OR of a thousand spans would exceed SQLite's expression depth) and keeps the keys."""
    wanted = set(keys)
    found = Coding.objects.filter(
        coder=user,
        document_id__in={key[0] for key in wanted},
        code_id__in={key[1] for key in wanted},
    ).select_related("coder")
    return {coding.key: coding for coding in found if coding.key in wanted}


def _start_assignments(
    user: object, documents: set[int], scopes: dict[int, _DocumentScope], *, check: bool = False
) -> None:
    """The user's waiting assignments of `documents` (where they now have codings) move to
    "in progress". With `check`, only where the user has a coding of their own there (the
    caller knows how many it wrote, not where)."""
    started = {pk for pk in documents if scopes[pk].assignment_waiting}
    if not started:
        return
    waiting = Assignment.objects.filter(
        document_id__in=started, coder=user, status=Assignment.Status.NOT_STARTED
    )
    if check:
        own = Coding.objects.filter(document=OuterRef("document"), coder=user, consensus=False)
        waiting = waiting.filter(Exists(own))
    waiting.update(status=Assignment.Status.IN_PROGRESS)


def _insert_counted(
    user: object, wanted: Sequence[CodingSpan], scopes: dict[int, _DocumentScope]
) -> AppliedCodings:
    """Insert checked spans in one statement, leaving the ones the user already has to the
    unique constraint (studies.rows.insert_rows with ignore_conflicts), and count what was
    written."""
    now = connections[Coding.objects.db].ops.adapt_datetimefield_value(timezone.now())
    names = ("document", "code", "start", "end", "consensus", "coder", "created_at")
    with _savepoint_if_in_transaction():
        created = insert_rows(
            Coding,
            names,
            [(s.document, s.code, s.start, s.end, s.consensus, user.pk, now) for s in wanted],
            ignore_conflicts=True,
        )
    _start_assignments(user, {s.document for s in wanted if not s.consensus}, scopes, check=True)
    return AppliedCodings(created=[], existing=[], counts=(created, len(wanted) - created))


def apply_codings(
    *,
    user: object,
    spans: Sequence[CodingSpan],
    study: Study | None = None,
    rows: bool = True,
) -> AppliedCodings:
    """Write `spans` as `user`'s codings (the consensus layer for those marked so), all of them
    or, when one is refused, none (CodingsRefused, PermissionDenied). A span the user already
    coded with that code is not written again: the database's unique constraint decides, not a
    read before the write. The user's assignments of those documents move from "not started"
    to "in progress". With `study`, every document must be one of its own.

    `rows=False` is for imports of many thousands of codings: the same checks and the same
    rule for existing spans, but one statement without model objects, and only the counts come
    back (AppliedCodings.counts)."""
    if not spans:
        return AppliedCodings(created=[], existing=[], counts=None if rows else (0, 0))
    scopes = check_codings(user=user, spans=spans, study=study)
    wanted = list({span.key: span for span in spans}.values())
    if not rows:
        return _insert_counted(user, sorted(wanted, key=lambda s: s.key), scopes)
    objects = [
        Coding(
            document_id=s.document,
            code_id=s.code,
            coder=user,
            start=s.start,
            end=s.end,
            consensus=s.consensus,
        )
        for s in wanted
    ]
    # One INSERT, atomic by itself (bulk_create wraps its batches in a transaction).
    try:
        with _savepoint_if_in_transaction():
            if len(objects) == 1:
                objects[0].save(force_insert=True)  # bulk_create would add BEGIN and COMMIT
            else:
                Coding.objects.bulk_create(sorted(objects, key=_insert_order))
        created, existing = objects, []
    except IntegrityError:
        # Some of them exist already (a double click, a repeated request): keep those and
        # create the rest. Codings made meanwhile by another request count as existing.
        before = _existing(user, [s.key for s in wanted])
        with _savepoint_if_in_transaction():
            Coding.objects.bulk_create(
                sorted(
                    (row for row, s in zip(objects, wanted, strict=True) if s.key not in before),
                    key=_insert_order,
                ),
                ignore_conflicts=True,
            )
        after = _existing(user, [s.key for s in wanted])
        created = [after[s.key] for s in wanted if s.key not in before and s.key in after]
        existing = [before[s.key] for s in wanted if s.key in before]
    _start_assignments(
        user,
        {c.document_id for c in created if not c.consensus},
        scopes,
    )
    for coding in created:
        coding.coder = user
    return AppliedCodings(created=created, existing=existing)


def recode_coding(*, user: object, coding: Coding, code_id: int) -> Coding:
    """Put another code on an existing coding (its span, coder and memos stay)."""
    span = CodingSpan(coding.document_id, code_id, coding.start, coding.end, coding.consensus)
    check_codings(user=user, spans=[span])
    coding.code_id = code_id
    try:
        with _savepoint_if_in_transaction():
            coding.save(update_fields=["code"])
    except IntegrityError:
        raise CodingsRefused(
            {0: {"code": ["You already applied that code to exactly this span."]}}, set()
        ) from None
    return coding


def may_change(access: Access, coding: Coding) -> bool:
    """Only the coder who made a coding changes or removes it; owners also edit the consensus
    layer (adjudication)."""
    mine = coding.coder_id == access.user.pk and not coding.consensus and access.can_code
    return mine or (coding.consensus and access.is_owner)


def remove_codings(*, access: Access, codings: Sequence[Coding]) -> int:
    """Delete codings `access` may change (PermissionDenied otherwise); their memos go with
    them. Returns how many were removed."""
    for coding in codings:
        if not may_change(access, coding):
            raise PermissionDenied("Only the coder who made a coding can change or remove it.")
    with transaction.atomic():
        deleted, _ = Coding.objects.filter(pk__in=[c.pk for c in codings]).delete()
        if deleted:
            _record_removal(access, codings)
    return len(codings) if deleted else 0


def _record_removal(access: Access, codings: Sequence[Coding]) -> None:
    """ "Removed 2 codings of 'Trust' from FI-1 session": codings made are read from the codings
    themselves (coding.audit), removed ones are gone and so are recorded."""
    documents = dict(
        Document.objects.filter(pk__in={c.document_id for c in codings}).values_list(
            "title", "study__slug"
        )
    )
    codes = Code.objects.filter(pk__in={c.code_id for c in codings}).values_list("name", flat=True)
    study = access.study
    if not study.slug:  # the coding API's access carries only the study's id and switches
        study = Study(pk=study.pk, slug=next(iter(documents.values()), ""))
    consensus = sum(c.consensus for c in codings)
    what = plural(len(codings), "consensus coding" if consensus == len(codings) else "coding")
    names = ", ".join(f"'{name}'" for name in sorted(codes))
    record(
        study,
        AuditEvent.Action.CODING,
        f"Removed {what} of {names} from {', '.join(sorted(documents))}",
        details={
            "codings": [c.pk for c in codings],
            "codes": sorted({c.code_id for c in codings}),
            "documents": sorted({c.document_id for c in codings}),
            "consensus": consensus,
        },
    )

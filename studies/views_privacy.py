"""Privacy pages: the personal data review of a transcript import, and a study's privacy page
(keeping the mapping from real names to pseudonyms, and the private list of names).

The review's decisions travel in the form, one checkbox and one text field per finding, named
by the file's place in the batch and the finding's key (its offsets in the original text):
`pd0-12-16` (ticked: replace) and `pd0-12-16-with` (the replacement). `pd0-shown` lists the
keys the form showed, so that an unticked box means "keep" rather than "not shown". A bulk
button posts `bulk=0:email:accept` (or `:dismiss`): a decision for the whole kind.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render

from studies.access import get_study_for_user
from studies.importers import FileRejected
from studies.models import Membership, PrivateName, Pseudonym
from studies.pseudonymise import (
    KINDS,
    MAX_REPLACEMENT,
    Decisions,
    Finding,
    Pseudonymised,
    add_private_names,
    clear_private_names,
    private_name_counts,
    remove_private_name,
    set_keep_mapping,
)
from studies.wording import plural

OWNER = Membership.Role.OWNER
CONTEXT = 40  # characters shown either side of a finding
OPEN_UP_TO = 30  # a kind with more findings than this starts folded
MAPPING_PAGE = 200
ACCEPT, DISMISS = "accept", "dismiss"


# --- The review of an import -----------------------------------------------------------------


@dataclass
class FindingRow:
    finding: Finding
    before: str
    after: str
    replace: bool
    value: str  # what the replacement field shows
    field: str  # the checkbox's name; the text field's is field + "-with"
    error: str = ""

    @property
    def kind_name(self) -> str:
        return KINDS[self.finding.kind][2]


@dataclass
class FindingGroup:
    kind: str
    label: str
    rows: list[FindingRow]
    bulk: str  # the bulk buttons' value prefix: "0:email"

    @property
    def replaced(self) -> int:
        return sum(row.replace for row in self.rows)

    @property
    def open(self) -> bool:
        return len(self.rows) <= OPEN_UP_TO or any(row.error for row in self.rows)


@dataclass
class LabelRow:
    text: str
    replacement: str
    count: int


@dataclass
class PersonalData:
    """One file's findings as the review shows them: speaker labels (always replaced) and
    the other findings grouped by kind, each group in text order."""

    index: int
    shown: str  # the keys of the rows in the form, space-separated
    labels: list[LabelRow] = field(default_factory=list)
    groups: list[FindingGroup] = field(default_factory=list)

    @property
    def found(self) -> int:
        return sum(label.count for label in self.labels) + sum(len(g.rows) for g in self.groups)

    @property
    def errors(self) -> int:
        return sum(1 for g in self.groups for row in g.rows if row.error)


def _prefix(index: int) -> str:
    return f"pd{index}"


def replacement_error(value: str) -> str:
    """Why a typed replacement cannot be used, or "" when it can (empty means the proposed
    one)."""
    if "\n" in value or "\r" in value:
        return "A replacement is one line."
    if len(value.strip()) > MAX_REPLACEMENT:
        return f"A replacement has at most {MAX_REPLACEMENT} characters ({len(value.strip())})."
    return ""


def posted_decisions(
    post: QueryDict | None, index: int, findings: list[Finding]
) -> tuple[Decisions, dict[str, str]]:
    """The reviewer's decisions for the file at `index` of the batch, and the message for each
    finding (by key) whose typed replacement cannot be used (that finding keeps its proposed
    fate, and nothing may be imported until it is corrected)."""
    if post is None:
        return Decisions(), {}
    prefix = _prefix(index)
    shown = set(post.get(f"{prefix}-shown", "").split())
    bulk_kind, bulk_action = "", ""
    bulk = post.get("bulk", "").split(":")
    if len(bulk) == 3 and bulk[0] == str(index) and bulk[2] in (ACCEPT, DISMISS):
        bulk_kind, bulk_action = bulk[1], bulk[2]
    each: dict[str, str] = {}
    errors: dict[str, str] = {}
    for finding in findings:
        if finding.label or finding.key not in shown:
            continue
        name = f"{prefix}-{finding.key}"
        ticked = post.get(name) == "replace"
        typed = post.get(f"{name}-with", "")
        error = replacement_error(typed)
        if error and (ticked or finding.kind == bulk_kind):
            errors[finding.key] = error
            continue
        typed = typed.strip()
        if finding.kind == bulk_kind:
            # The kind's decision; a replacement typed for one of them is kept.
            if bulk_action == ACCEPT and typed and typed != finding.replacement:
                each[finding.key] = typed
        else:
            each[finding.key] = (typed or finding.replacement) if ticked else ""
    kinds = {bulk_kind: bulk_action} if bulk_kind else {}
    return Decisions(each=each, kinds=kinds), errors


def _context(text: str, start: int, end: int) -> tuple[str, str]:
    """About CONTEXT characters either side of text[start:end], on one line; the spaces next
    to the finding are kept ("said <mark>Aino</mark> to")."""
    before = re.sub(r"\s+", " ", text[max(0, start - CONTEXT) : start]).lstrip()
    after = re.sub(r"\s+", " ", text[end : end + CONTEXT]).rstrip()
    return ("…" if start > CONTEXT else "") + before, after + (
        "…" if end + CONTEXT < len(text) else ""
    )


def personal_data(
    index: int,
    result: Pseudonymised,
    post: QueryDict | None,
    errors: dict[str, str],
) -> PersonalData:
    """What the review shows of one file's findings, after `result` applied the decisions:
    ticked where replaced, with the replacement used (or, where a typed one was refused,
    what was typed, beside its error)."""
    prefix = _prefix(index)
    applied = {f.key: f.replacement for f in result.applied}
    text = result.original
    labels: Counter[tuple[str, str]] = Counter()
    rows: dict[str, list[FindingRow]] = {}
    for finding in result.findings:
        if finding.label:
            labels[(finding.text, applied.get(finding.key, finding.replacement))] += 1
            continue
        name = f"{prefix}-{finding.key}"
        before, after = _context(text, finding.start, finding.end)
        error = errors.get(finding.key, "")
        typed = post.get(f"{name}-with", "") if post is not None else ""
        if error:
            replace, value = True, typed
        elif finding.key in applied:
            replace, value = True, applied[finding.key]
        else:
            replace, value = False, typed.strip() or finding.replacement
        row = FindingRow(finding, before, after, replace, value, name, error)
        rows.setdefault(finding.kind, []).append(row)
    groups = [
        FindingGroup(kind, KINDS[kind][0], rows[kind], f"{index}:{kind}")
        for kind in KINDS
        if kind in rows
    ]
    shown = " ".join(row.finding.key for group in groups for row in group.rows)
    return PersonalData(
        index,
        shown,
        [LabelRow(t, r, n) for (t, r), n in sorted(labels.items())],
        groups,
    )


# --- The privacy page ------------------------------------------------------------------------


class KeepMappingForm(forms.Form):
    keep = forms.BooleanField(
        required=False, label="Keep the mapping from real names to pseudonyms (owners only)"
    )
    confirm = forms.BooleanField(
        required=False,
        label="Yes, delete the mapping kept so far",
    )


class PrivateNamesForm(forms.Form):
    names = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 5, "autocomplete": "off", "spellcheck": "false"}),
        label="Names, one per line",
        help_text="Staff, places, employers: anything that names someone and is not on the "
        "roster. The list keeps only a keyed hash of each name and never shows it again.",
    )
    file = forms.FileField(
        required=False,
        label="Or a file of names",
        help_text="A .txt or .csv file with one name per line (a .csv: the first column).",
    )
    kind = forms.ChoiceField(choices=PrivateName.Kind.choices, label="The names are")

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs["accept"] = ".txt,.csv"

    def clean(self) -> dict:
        data = super().clean()
        upload = data.get("file")
        lines: list[str] = []
        self.filename = "the names typed"
        if upload is not None:
            if not upload.name.lower().endswith((".txt", ".csv")):
                raise forms.ValidationError({"file": "Upload a .txt or .csv file."})
            try:
                content = upload.read().decode("utf-8-sig")
            except UnicodeDecodeError:
                raise forms.ValidationError({"file": "The file is not UTF-8 text."}) from None
            if upload.name.lower().endswith(".csv"):
                content = "\n".join(
                    line.split(",", 1)[0].strip('"') for line in content.splitlines()
                )
            lines = content.splitlines()
            self.filename = upload.name
        typed = (data.get("names") or "").splitlines()
        if typed and lines:
            self.filename = "the names typed and " + upload.name
        if not any(line.strip() for line in typed + lines):
            raise forms.ValidationError("Type some names or choose a file of names.")
        data["lines"] = typed + lines
        return data


class RemoveNameForm(forms.Form):
    name = forms.CharField(
        max_length=200,
        label="Name to remove",
        help_text="Type it as it was added (case and spacing do not matter).",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


class ClearListForm(forms.Form):
    confirm = forms.BooleanField(label="Yes, remove every name on the private list")


@login_required
def privacy(request: HttpRequest, slug: str) -> HttpResponse:
    """The study's privacy settings: whether the mapping to pseudonyms is kept (and, while it
    is, the mapping itself), and the private list of names (counts only). Owners only."""
    study = get_study_for_user(request.user, slug, min_role=OWNER, archived_ok=True)
    keep_form = KeepMappingForm(initial={"keep": study.keep_pseudonyms})
    add_form = PrivateNamesForm()
    remove_form = RemoveNameForm()
    clear_form = ClearListForm()
    action = request.POST.get("action") if request.method == "POST" else None
    if action:
        study.access.require(OWNER)  # an archived study is read-only until restored
    if action == "keep":
        keep_form = KeepMappingForm(request.POST)
        if keep_form.is_valid():
            keep = keep_form.cleaned_data["keep"]
            kept = study.pseudonyms.count()
            if (
                not keep
                and study.keep_pseudonyms
                and kept
                and not keep_form.cleaned_data["confirm"]
            ):
                keep_form.add_error(
                    "confirm",
                    f"Turning this off deletes the {plural(kept, 'kept replacement')}: tick to "
                    "confirm.",
                )
            else:
                deleted = set_keep_mapping(study, keep, request.user)
                if keep:
                    messages.success(request, "The mapping to pseudonyms is now kept.")
                else:
                    messages.success(
                        request,
                        "The mapping to pseudonyms is no longer kept"
                        + (f"; {plural(deleted, 'kept replacement')} deleted." if deleted else "."),
                    )
                return redirect("studies:privacy", slug=study.slug)
    elif action == "add":
        add_form = PrivateNamesForm(request.POST, request.FILES)
        if add_form.is_valid():
            try:
                change = add_private_names(
                    study=study,
                    names=add_form.cleaned_data["lines"],
                    kind=add_form.cleaned_data["kind"],
                    user=request.user,
                    filename=add_form.filename,
                )
            except FileRejected as exc:
                add_form.add_error(None, f"Nothing was added: {exc}")
            else:
                messages.success(request, change.summary())
                return redirect("studies:privacy", slug=study.slug)
    elif action == "remove":
        remove_form = RemoveNameForm(request.POST)
        if remove_form.is_valid():
            if remove_private_name(study, remove_form.cleaned_data["name"], request.user):
                messages.success(request, "Removed the name from the private list.")
                return redirect("studies:privacy", slug=study.slug)
            remove_form.add_error("name", "That name is not on the private list.")
    elif action == "clear":
        clear_form = ClearListForm(request.POST)
        if clear_form.is_valid():
            removed = clear_private_names(study, request.user)
            messages.success(
                request, f"Removed the whole private list ({plural(removed, 'name')})."
            )
            return redirect("studies:privacy", slug=study.slug)
    counts = private_name_counts(study)
    mapping = None
    if study.keep_pseudonyms:
        kept_rows = (
            Pseudonym.objects.filter(study=study)
            .select_related("document")
            .order_by("document__title", "document", "replacement", "original")
        )
        mapping = Paginator(kept_rows, MAPPING_PAGE).get_page(request.GET.get("page"))
        for row in mapping:
            row.kind_name = KINDS[row.kind][2] if row.kind in KINDS else row.kind
    return render(
        request,
        "studies/privacy.html",
        {
            "study": study,
            "keep_form": keep_form,
            "add_form": add_form,
            "remove_form": remove_form,
            "clear_form": clear_form,
            "counts": [(label, counts[kind]) for kind, label in PrivateName.Kind.choices],
            "listed": sum(counts.values()),
            "mapping": mapping,
            "page": mapping,
            "kept": study.pseudonyms.count(),
        },
    )

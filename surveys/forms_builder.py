"""The builder's forms: a page, a question with its options written as lines "code = label".

The forms only read what was typed; every rule about what may change lives in surveys.builder,
whose ValidationError messages the views put beside the field they name.
"""

from __future__ import annotations

import json
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from surveys import builder
from surveys.models import CODE_HELP, Option, Page, Question, Survey

Kind = Question.Kind
LINES_HELP = (
    "One per line, written as code = label (for example: hiring = Hiring). The code is what "
    "is stored and exported; the label is what respondents read."
)
CONDITION_HELP = (
    "Leave empty to always show it. Refer to earlier questions by code, e.g. "
    "${consent} = 'yes', ${age} >= 18, selected(${domains}, 'hiring'); combine with and / or."
)
# Which kinds use which fields (builder.js hides the others; without it every field shows).
KINDS_WITH = {
    "options": [Kind.LIKERT5, Kind.LIKERT7, Kind.SINGLE, Kind.MULTIPLE, Kind.RANKING, Kind.MATRIX],
    "rows": [Kind.MATRIX],
    "allows_other": [Kind.MULTIPLE],
    "min_value": [Kind.NUMBER],
    "max_value": [Kind.NUMBER],
}


class PageForm(forms.Form):
    title = forms.CharField(max_length=200, required=False, help_text="Respondents see it.")
    relevant = forms.CharField(
        label="Display condition", max_length=1000, required=False, help_text=CONDITION_HELP
    )


class QuestionForm(forms.Form):
    code = forms.CharField(max_length=64, help_text=CODE_HELP + " It names the answer in exports.")
    kind = forms.ChoiceField(choices=Kind.choices)
    label = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), help_text="The question.")
    help_text = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}),
        required=False,
        help_text="Shown under the question (optional).",
    )
    page = forms.ModelChoiceField(
        queryset=Page.objects.none(), required=False, empty_label="(no page)"
    )
    required = forms.BooleanField(required=False, label="Required (when shown)")
    relevant = forms.CharField(
        label="Display condition", max_length=1000, required=False, help_text=CONDITION_HELP
    )
    options = forms.CharField(
        label="Options, or the points of the scale",
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
        help_text=LINES_HELP + " A Likert scale keeps its codes 1, 2, ...; change its labels.",
    )
    rows = forms.CharField(
        label="Matrix rows",
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
        help_text=LINES_HELP + " Each row is rated on the points above.",
    )
    allows_other = forms.BooleanField(
        required=False, label='Offer "Other, please specify" (multiple choice)'
    )
    min_value = forms.FloatField(required=False, label="Smallest number allowed")
    max_value = forms.FloatField(required=False, label="Largest number allowed")

    def __init__(self, *args: Any, survey: Survey, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.survey = survey
        self.fields["page"].queryset = survey.pages.order_by("order", "pk")
        for name, kinds in KINDS_WITH.items():
            self.fields[name].widget.attrs["data-kinds"] = " ".join(kinds)
        # builder.js swaps the starting points when the kind changes and none were edited.
        defaults = {kind: initial_for_kind(kind).get("options", "") for kind in Kind.values}
        self.fields["options"].widget.attrs["data-defaults"] = json.dumps(defaults)

    def clean_code(self) -> str:
        return self.cleaned_data["code"].strip()

    def clean_options(self) -> builder.Pairs | None:
        return builder.parse_option_lines(self.cleaned_data["options"]) or None

    def clean_rows(self) -> builder.Pairs | None:
        return builder.parse_option_lines(self.cleaned_data["rows"], what="row") or None

    def question_data(self) -> builder.QuestionData:
        data = self.cleaned_data
        kind = data["kind"]
        options = data["options"] if kind in KINDS_WITH["options"] else None
        if kind in builder.CHOICE_KINDS and options is None:
            options = []  # an emptied list is refused by name, not kept silently
        return builder.QuestionData(
            code=data["code"],
            kind=kind,
            label=data["label"].strip(),
            help_text=data["help_text"].strip(),
            required=data["required"],
            relevant=data["relevant"],
            allows_other=data["allows_other"],
            min_value=data["min_value"],
            max_value=data["max_value"],
            options=options,
            rows=data["rows"] if kind == Kind.MATRIX else None,
        )

    def refused(self, error: ValidationError) -> None:
        """Put the builder's refusal beside the fields it names (the rest above the form)."""
        if not hasattr(error, "error_dict"):
            self.add_error(None, error)
            return
        for name, errors in error.error_dict.items():
            self.add_error(name if name in self.fields else None, errors)


def initial_for(question: Question) -> dict[str, Any]:
    """The form's values for an existing question: its options as lines."""
    options = question.options.all()
    return {
        "code": question.code,
        "kind": question.kind,
        "label": question.label,
        "help_text": question.help_text,
        "page": question.page_id,
        "required": question.required,
        "relevant": question.relevant,
        "allows_other": question.allows_other,
        "min_value": question.min_value,
        "max_value": question.max_value,
        "options": builder.option_lines(
            (o.code, o.label) for o in options if o.role == Option.Role.CHOICE
        ),
        "rows": builder.option_lines(
            (o.code, o.label) for o in options if o.role == Option.Role.ROW
        ),
    }


def initial_for_kind(kind: str) -> dict[str, Any]:
    """A new question's values: the Likert labels and matrix points to start from."""
    initial: dict[str, Any] = {"kind": kind}
    if kind in builder.LIKERT:
        initial["options"] = builder.option_lines(builder.likert_defaults(kind))
    elif kind == Kind.MATRIX:
        initial["options"] = builder.option_lines(builder.DEFAULT_MATRIX_POINTS)
    return initial

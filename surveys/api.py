"""REST endpoints of a study's surveys, under /api/v1/studies/{slug}/surveys/.

Members (viewers and up) read the instruments (surveys, their questions with options and
translations, the XLSForm) and the aggregated results; owners build, distribute and import, and
they alone see the private links and the individual responses. Every endpoint reaches its study
through `get_study_for_user` (as `StudyScopedViewSet` does), so an outsider gets 404, a member
below the role 403, and an archived study takes no change.

Nothing here has a write path of its own: questions are written by `surveys.builder`, links made
and sent by `surveys.distribution`, responses imported by `surveys.responses_import`, instruments
read and written by `surveys.xlsform`, and results computed by `surveys.results`: the same
functions the owner's pages and the commands call.
"""

from __future__ import annotations

import dataclasses
import json
import math
from typing import Any

import django_filters
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import transaction
from django.db.models import Count, Prefetch, QuerySet
from django.http import Http404, HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_view,
    inline_serializer,
)
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response as APIResponse

from studies.access import OWNER, get_study_for_user
from studies.api import SLUG_REGEX, StudyScopedResourceViewSet, StudyScopedViewSet, schema_only
from studies.api import truthy as is_true
from studies.groups import GROUPINGS_HELP, UnknownGroup
from studies.importers import FileRejected
from studies.nul import MultiPartParser
from studies.wording import plural
from surveys import builder, distribution
from surveys.forms_owner import SurveyForm
from surveys.models import (
    Answer,
    Invitation,
    Option,
    Page,
    Question,
    Response,
    Survey,
    slug_problem,
)
from surveys.responses_import import apply_responses, plan_responses
from surveys.results import ResultsError, count_respondents, summarise, wave_change
from surveys.xlsform import export_xlsform, import_xlsform

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
# Path segments under surveys/ that are actions, so no survey may take them as its slug.
SURVEY_PATH = OpenApiParameter(
    "survey", str, OpenApiParameter.PATH, description="The survey's slug."
)


# --- Shared -----------------------------------------------------------------------------------


def refusal(exc: DjangoValidationError) -> serializers.ValidationError:
    """A refusal of the builder, distribution or a model as the API reports it: field ->
    messages, and what names no field under non_field_errors."""
    if hasattr(exc, "error_dict"):
        errors = {
            ("non_field_errors" if name == "__all__" else name): list(messages)
            for name, messages in exc.message_dict.items()
        }
    else:
        errors = {"non_field_errors": list(exc.messages)}
    return serializers.ValidationError(errors)


def file_refusal(exc: FileRejected) -> APIResponse:
    """400 naming the file and where in it the import stopped: nothing was written."""
    where = {"row": exc.line, "column": exc.column, "message": " ".join(exc.reason.split())}
    if getattr(exc, "sheet", None):
        where["sheet"] = exc.sheet
    return APIResponse({"file": [str(exc)], "errors": [where]}, status=status.HTTP_400_BAD_REQUEST)


def one_file(request: Request, kinds: str) -> tuple[str, bytes]:
    files = request.FILES.getlist("file")
    if len(files) != 1:
        raise serializers.ValidationError({"file": [f"Upload one {kinds} file as 'file'."]})
    return files[0].name, files[0].read()


def jsonable(value: Any) -> Any:
    """A result's dataclasses as JSON: dates as ISO strings, and a number that is not finite
    (which JSON cannot hold) as null."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return jsonable(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


class SurveyScopedViewSet(StudyScopedViewSet):
    """The study (through the same door as every study resource), then one of its surveys by
    the slug in the URL: `self.survey`. Reading changes nothing, so owners still read their
    links and responses once the study is archived; any change there is refused."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        reading = request.method in SAFE_METHODS
        # StudyScopedViewSet.initial's check, with reading allowed in an archived study.
        super(StudyScopedViewSet, self).initial(request, *args, **kwargs)
        self.study = get_study_for_user(
            request.user,
            kwargs["slug"],
            min_role=self.read_role if reading else self.write_role,
            archived_ok=reading,
        )
        survey = Survey.objects.filter(study=self.study, slug=kwargs["survey"]).first()
        if survey is None:
            raise Http404("No such survey in this study.")
        self.survey = survey

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if hasattr(self, "survey"):
            context["survey"] = self.survey
        return context


# --- Surveys ----------------------------------------------------------------------------------


class SurveyCountsSerializer(serializers.Serializer):
    questions = serializers.IntegerField()
    invited = serializers.IntegerField(help_text="Participants' links made.")
    started = serializers.IntegerField(help_text="Responses begun and not submitted (drafts).")
    completed = serializers.IntegerField(help_text="Responses submitted (or imported).")


class SurveySerializer(serializers.ModelSerializer):
    slug = serializers.SlugField(
        max_length=50,
        required=False,
        help_text="Letters, digits and hyphens, unique in the study; made from the title when "
        "left out.",
    )
    wave_of = serializers.SlugRelatedField(
        slug_field="slug",
        queryset=Survey.objects.none(),
        allow_null=True,
        required=False,
        help_text="The slug of the survey of this study that this one is a later wave of.",
    )
    anonymous_url = serializers.SerializerMethodField(
        help_text="The shared anonymous link, for owners of a survey that allows one; null "
        "otherwise."
    )
    counts = serializers.SerializerMethodField()

    class Meta:
        model = Survey
        fields = [
            "slug",
            "title",
            "description",
            "languages",
            "wave_of",
            "allows_anonymous",
            "anonymous_url",
            "opens_at",
            "closes_at",
            "created_at",
            "counts",
        ]
        read_only_fields = ["created_at"]
        extra_kwargs = {
            "languages": {
                "required": False,
                "help_text": "BCP 47 tags, comma-separated; the first is the language the "
                "texts are written in. The study's languages when left out.",
            }
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        study = self.context.get("study")
        if study is not None:
            self.fields["wave_of"].queryset = Survey.objects.filter(study=study)

    def get_anonymous_url(self, survey: Survey) -> str | None:
        request = self.context.get("request")
        study = self.context.get("study")
        if request is None or study is None or study.user_role != OWNER:
            return None
        return distribution.anonymous_url(request, survey) or None

    @extend_schema_field(SurveyCountsSerializer)
    def get_counts(self, survey: Survey) -> dict[str, int]:
        totals = self.context.get("totals")
        if totals is None or survey.pk not in totals:
            # A page of the list is counted at once (two queries), a single survey alone.
            listed = isinstance(self.parent, serializers.ListSerializer)
            batch = self.parent.instance if listed else None
            totals = distribution.totals(list(batch) if batch is not None else [survey])
            self.context["totals"] = totals
        counts = totals[survey.pk]
        questions = getattr(survey, "question_count", None)
        return {
            "questions": questions if questions is not None else survey.questions.count(),
            "invited": counts.invited,
            "started": counts.started,
            "completed": counts.completed,
        }


class XLSFormUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text="An XLSForm (.xlsx): survey, choices, settings sheets.")
    slug = serializers.SlugField(
        max_length=50,
        required=False,
        help_text="The new survey's slug (the form's form_id or title when left out).",
    )


class XLSFormImportSerializer(serializers.Serializer):
    survey = SurveySerializer()
    warnings = serializers.ListField(child=serializers.CharField())


class ResultsSerializer(serializers.Serializer):
    survey = serializers.CharField()
    by = serializers.CharField(allow_null=True)
    include_drafts = serializers.BooleanField()
    respondents = serializers.IntegerField()
    questions = serializers.ListField(
        child=serializers.DictField(),
        help_text="Per question (surveys.results.QuestionResult): overall and per group, with "
        "n, missing, counts and shares, means, ranks and number summaries by kind.",
    )
    change = serializers.ListField(
        child=serializers.DictField(),
        allow_null=True,
        help_text="For a later wave: the change per participant from the earlier wave "
        "(surveys.results.ChangeResult: Wilcoxon signed-rank test and rank-biserial effect "
        "size, overall and per group); null for a survey that is not a later wave.",
    )


@extend_schema_view(
    retrieve=extend_schema(parameters=[SURVEY_PATH]),
    partial_update=extend_schema(parameters=[SURVEY_PATH]),
)
class SurveyViewSet(StudyScopedResourceViewSet):
    """The study's surveys. Members read them (with counts of questions, links and responses)
    and their results; owners create, change and delete them, and import and export them as
    XLSForm."""

    serializer_class = SurveySerializer
    lookup_field = "slug"
    lookup_url_kwarg = "survey"
    lookup_value_regex = SLUG_REGEX
    ordering_fields = ["created_at", "slug", "title"]
    ordering = ["created_at", "slug"]

    def get_queryset(self) -> QuerySet[Survey]:
        if schema_only(self):
            return Survey.objects.none()
        return (
            Survey.objects.filter(study=self.study)
            .select_related("wave_of")
            .annotate(question_count=Count("questions"))
        )

    def perform_create(self, serializer: SurveySerializer) -> None:
        serializer.instance = self._save(serializer, Survey(study=self.study))

    def perform_update(self, serializer: SurveySerializer) -> None:
        serializer.instance = self._save(serializer, serializer.instance)

    def _save(self, serializer: SurveySerializer, survey: Survey) -> Survey:
        """Through the owner's settings form, so that a survey's rules (a free slug, made from
        the title when left out; languages; waves that make no circle; closing after opening)
        are the page's; the shared anonymous link's token is distribution's."""
        data = {
            name: getattr(survey, name) if survey.pk else None for name in SurveyForm.Meta.fields
        }
        if not survey.pk:
            data |= {"languages": self.study.languages, "allows_anonymous": False}
        data |= serializer.validated_data
        wave = data["wave_of"]
        data["wave_of"] = wave.pk if wave is not None else ""
        data = {name: "" if value is None else value for name, value in data.items()}
        form = SurveyForm(data, instance=survey, study=self.study)
        if not form.is_valid():
            raise serializers.ValidationError(
                {
                    ("non_field_errors" if name == "__all__" else name): list(messages)
                    for name, messages in form.errors.items()
                }
            )
        with transaction.atomic():
            survey = form.save()
            if survey.allows_anonymous and not survey.anonymous_token:
                distribution.set_anonymous(survey, True)
        return survey

    @extend_schema(
        parameters=[
            SURVEY_PATH,
            OpenApiParameter(
                "confirm", bool, description="Also delete the survey's links and responses."
            ),
        ],
        responses={204: None, 400: OpenApiTypes.OBJECT},
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> APIResponse:
        """Delete the survey with its questions; when it has links or responses, only with
        `confirm=true` (query or body), and the answer without it names what would go."""
        survey = self.get_object()
        links = survey.invitations.count()
        responses = survey.responses.count()
        confirm = is_true(request.query_params.get("confirm")) or (
            isinstance(request.data, dict) and is_true(request.data.get("confirm"))
        )
        if (links or responses) and not confirm:
            return APIResponse(
                {
                    "confirm": [
                        f"Deleting {survey.slug} also deletes its {plural(links, 'link')} and "
                        f"{plural(responses, 'response')}: send confirm=true to go ahead."
                    ]
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        survey.delete()
        return APIResponse(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request={"multipart/form-data": XLSFormUploadSerializer},
        responses={201: XLSFormImportSerializer, 400: OpenApiTypes.OBJECT},
    )
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[MultiPartParser])
    def import_xlsform(self, request: Request, *args: Any, **kwargs: Any) -> APIResponse:
        """Create a survey from an XLSForm (.xlsx), all or nothing. What the form holds that a
        survey cannot represent is refused naming the sheet, row and column, or (when it can
        be left out safely) listed in `warnings`."""
        filename, data = one_file(request, "XLSForm (.xlsx)")
        wanted = request.data.get("slug") or None
        if wanted is not None:
            wanted = str(wanted).strip()
            form = XLSFormUploadSerializer(data={"slug": wanted}, partial=True)
            form.is_valid(raise_exception=True)
            problem = slug_problem(self.study, wanted)
            if problem:
                raise serializers.ValidationError({"slug": [problem]})
        try:
            result = import_xlsform(study=self.study, filename=filename, data=data, slug=wanted)
        except FileRejected as exc:
            return file_refusal(exc)
        context = self.get_serializer_context()
        body = {
            "survey": SurveySerializer(result.survey, context=context).data,
            "warnings": result.warnings,
        }
        return APIResponse(body, status=status.HTTP_201_CREATED)

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # The XLSForm answers with its file whatever the Accept header; errors stay JSON.
        return super().perform_content_negotiation(
            request, force=force or getattr(self, "action", None) == "xlsform"
        )

    @extend_schema(
        parameters=[SURVEY_PATH],
        responses={(200, XLSX): OpenApiResponse(OpenApiTypes.BINARY, description="The XLSForm")},
    )
    @action(detail=True, methods=["get"])
    def xlsform(self, request: Request, *args: Any, **kwargs: Any) -> HttpResponse:
        """The survey as an XLSForm (.xlsx) that ODK, KoboToolbox and this site read back."""
        instrument = self.get_object()
        response = HttpResponse(export_xlsform(instrument), content_type=XLSX)
        response["Content-Disposition"] = f'attachment; filename="{instrument.slug}.xlsx"'
        return response

    @extend_schema(
        parameters=[
            SURVEY_PATH,
            OpenApiParameter("by", str, description=f"Group respondents by {GROUPINGS_HELP}."),
            OpenApiParameter(
                "drafts", bool, description="Count unfinished responses too (default: no)."
            ),
        ],
        responses={200: ResultsSerializer},
    )
    @action(detail=True, methods=["get"])
    def results(self, request: Request, *args: Any, **kwargs: Any) -> APIResponse:
        """Aggregated results per question, overall and by group (`by`), and for a later wave
        the change from the earlier one: counts and statistics only, never an individual
        response."""
        instrument = self.get_object()
        by = request.query_params.get("by", "").strip() or None
        drafts = is_true(request.query_params.get("drafts", ""))
        try:
            questions = summarise(instrument, by=by, include_drafts=drafts)
            change = wave_change(instrument, by=by) if instrument.wave_of_id else None
        except UnknownGroup as exc:
            raise serializers.ValidationError({"by": [str(exc)]}) from None
        except ResultsError as exc:
            raise serializers.ValidationError({"detail": [str(exc)]}) from None
        return APIResponse(
            {
                "survey": instrument.slug,
                "by": by,
                "include_drafts": drafts,
                "respondents": count_respondents(instrument, include_drafts=drafts),
                "questions": jsonable(questions),
                "change": jsonable(change) if change is not None else None,
            }
        )


# --- Questions --------------------------------------------------------------------------------


# Several models have a `kind` and a `role`: these name their choice sets in the schema, so that
# each is one stable component (QuestionKindEnum, OptionRoleEnum) rather than a made-up name.
@extend_schema_field(
    {"type": "string", "enum": list(Question.Kind.values)}, component_name="QuestionKindEnum"
)
class QuestionKindField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Question.Kind.choices, **kwargs)


@extend_schema_field(
    {"type": "string", "enum": list(Option.Role.values)}, component_name="OptionRoleEnum"
)
class OptionRoleField(serializers.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Option.Role.choices, **kwargs)


class TextsSerializer(serializers.Serializer):
    text = serializers.CharField(allow_blank=True, help_text="The label (or title) translated.")
    help_text = serializers.CharField(allow_blank=True, required=False, default="")


class OptionSerializer(serializers.ModelSerializer):
    role = OptionRoleField(read_only=True)
    translations = serializers.SerializerMethodField(help_text="{language: label}")

    class Meta:
        model = Option
        fields = ["code", "label", "role", "translations"]

    def get_translations(self, option: Option) -> dict[str, str]:
        return {t.language: t.text for t in option.translations.all()}


class QuestionSerializer(serializers.ModelSerializer):
    kind = QuestionKindField(read_only=True)
    options = serializers.SerializerMethodField(
        help_text="The choices (role choice) in order, then a matrix's rows (role row)."
    )
    translations = serializers.SerializerMethodField(
        help_text="{language: {text, help_text}} in the survey's other languages."
    )

    class Meta:
        model = Question
        fields = [
            "id",
            "code",
            "kind",
            "label",
            "help_text",
            "required",
            "relevant",
            "allows_other",
            "min_value",
            "max_value",
            "page",
            "order",
            "options",
            "translations",
        ]

    @extend_schema_field(OptionSerializer(many=True))
    def get_options(self, question: Question) -> list[dict[str, Any]]:
        options = sorted(
            question.options.all(), key=lambda o: (o.role != Option.Role.CHOICE, o.order, o.pk)
        )
        return OptionSerializer(options, many=True).data

    @extend_schema_field(serializers.DictField(child=TextsSerializer()))
    def get_translations(self, question: Question) -> dict[str, dict[str, str]]:
        return {
            t.language: {"text": t.text, "help_text": t.help_text}
            for t in question.translations.all()
        }


class OptionInputSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=64)
    label = serializers.CharField(max_length=500)
    translations = serializers.DictField(
        child=serializers.CharField(allow_blank=True, max_length=500),
        required=False,
        help_text="{language: label} in the survey's other languages.",
    )


class QuestionWriteSerializer(serializers.Serializer):
    """What an owner sends to create a question (code, kind and label needed) or change one
    (any of the fields). `options` and `rows` replace the lists they name; left out, they are
    kept (or, for a new question, a Likert scale's labelled points and a matrix's Low, Medium,
    High)."""

    code = serializers.CharField(max_length=64)
    kind = QuestionKindField()
    label = serializers.CharField()
    help_text = serializers.CharField(allow_blank=True, required=False)
    required = serializers.BooleanField(required=False)
    relevant = serializers.CharField(
        allow_blank=True, required=False, max_length=1000, help_text="The display condition."
    )
    allows_other = serializers.BooleanField(required=False)
    min_value = serializers.FloatField(allow_null=True, required=False)
    max_value = serializers.FloatField(allow_null=True, required=False)
    page = serializers.IntegerField(
        allow_null=True, required=False, min_value=1, help_text="The id of a page of the survey."
    )
    options = OptionInputSerializer(many=True, required=False)
    rows = OptionInputSerializer(many=True, required=False, help_text="A matrix's rows.")
    translations = serializers.DictField(
        child=TextsSerializer(),
        required=False,
        help_text="{language: {text, help_text}} in the survey's other languages.",
    )

    def validate_page(self, value: int | None) -> Page | None:
        if value is None:
            return None
        page = Page.objects.filter(survey=self.context["survey"], pk=value).first()
        if page is None:
            raise serializers.ValidationError(f"The survey has no page {value}.")
        return page

    def validate_min_value(self, value: float | None) -> float | None:
        if value is not None and not math.isfinite(value):
            raise serializers.ValidationError("A bound is a finite number.")
        return value

    validate_max_value = validate_min_value


class PageOrderSerializer(serializers.Serializer):
    page = serializers.IntegerField(allow_null=True, help_text="A page's id; null: no page.")
    questions = serializers.ListField(child=serializers.IntegerField(), allow_empty=True)


class QuestionOrderSerializer(serializers.Serializer):
    pages = PageOrderSerializer(many=True)


def pairs(items: list[dict[str, Any]] | None) -> list[tuple[str, str]] | None:
    return None if items is None else [(item["code"], item["label"]) for item in items]


class QuestionViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    SurveyScopedViewSet,
):
    """A survey's questions in the respondent's order, with options and translations. Members
    read them; owners add, change, move, reorder and delete them (through the builder, whose
    rules keep display logic sound and answers intact)."""

    serializer_class = QuestionSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    filterset_fields = ["kind"]
    ordering_fields = ["order", "code", "id"]
    ordering = ["order", "id"]

    def get_queryset(self) -> QuerySet[Question]:
        if schema_only(self):
            return Question.objects.none()
        return Question.objects.filter(survey=self.survey).prefetch_related(
            "translations", "options__translations"
        )

    def _answer(self, question: Question, code: int = status.HTTP_200_OK) -> APIResponse:
        fresh = self.get_queryset().get(pk=question.pk)
        return APIResponse(self.get_serializer(fresh).data, status=code)

    def _write_translations(self, question: Question, data: dict[str, Any]) -> None:
        """The question's and its options' texts in other languages, as the builder stores
        them; a language the survey does not have is refused, naming the field."""
        try:
            for language, texts in data.get("translations", {}).items():
                builder.set_translation(
                    question, language, texts.get("text", ""), texts.get("help_text", "")
                )
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"translations": refused_messages(exc)}) from None
        for field in ("options", "rows"):
            role = Option.Role.ROW if field == "rows" else Option.Role.CHOICE
            own = {o.code: o for o in question.options.filter(role=role)}
            for item in data.get(field) or []:
                try:
                    for language, text in item.get("translations", {}).items():
                        builder.set_translation(own[item["code"]], language, text)
                except DjangoValidationError as exc:
                    raise serializers.ValidationError({field: refused_messages(exc)}) from None

    @extend_schema(request=QuestionWriteSerializer, responses={201: QuestionSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> APIResponse:
        form = QuestionWriteSerializer(data=request.data, context=self.get_serializer_context())
        form.is_valid(raise_exception=True)
        data = form.validated_data
        question_data = builder.QuestionData(
            code=data["code"].strip(),
            kind=data["kind"],
            label=data["label"],
            help_text=data.get("help_text", ""),
            required=data.get("required", False),
            relevant=data.get("relevant", ""),
            allows_other=data.get("allows_other", False),
            min_value=data.get("min_value"),
            max_value=data.get("max_value"),
            options=pairs(data.get("options")),
            rows=pairs(data.get("rows")),
        )
        try:
            with transaction.atomic():
                question = builder.add_question(self.survey, question_data, page=data.get("page"))
                self._write_translations(question, data)
        except DjangoValidationError as exc:
            raise refusal(exc) from None
        return self._answer(question, status.HTTP_201_CREATED)

    @extend_schema(request=QuestionWriteSerializer, responses={200: QuestionSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> APIResponse:
        question = self.get_object()
        form = QuestionWriteSerializer(
            data=request.data, partial=True, context=self.get_serializer_context()
        )
        form.is_valid(raise_exception=True)
        data = form.validated_data
        question_data = builder.QuestionData(
            code=data.get("code", question.code).strip(),
            kind=data.get("kind", question.kind),
            label=data.get("label", question.label),
            help_text=data.get("help_text", question.help_text),
            required=data.get("required", question.required),
            relevant=data.get("relevant", question.relevant),
            allows_other=data.get("allows_other", question.allows_other),
            min_value=data.get("min_value", question.min_value),
            max_value=data.get("max_value", question.max_value),
            options=pairs(data.get("options")),
            rows=pairs(data.get("rows")),
        )
        try:
            with transaction.atomic():
                moved = "page" in data and data["page"] != question.page
                question = builder.update_question(
                    question, question_data, page=data["page"] if moved else builder.KEEP
                )
                self._write_translations(question, data)
        except DjangoValidationError as exc:
            raise refusal(exc) from None
        return self._answer(question)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "confirm", bool, description="Also delete the answers given to the question."
            )
        ],
        responses={204: None, 400: OpenApiTypes.OBJECT},
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> APIResponse:
        """Delete a question with its options and translations; when responses answer it, only
        with `confirm=true` (query or body): its answers go with it."""
        question = self.get_object()
        answered = builder.answer_count(question)
        confirm = is_true(request.query_params.get("confirm")) or (
            isinstance(request.data, dict) and is_true(request.data.get("confirm"))
        )
        if answered and not confirm:
            return APIResponse(
                {
                    "confirm": [
                        f"{plural(answered, 'response answers', 'responses answer')} "
                        f"{question.code}: send confirm=true to delete the question and those "
                        "answers."
                    ]
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        try:
            builder.delete_question(question)
        except DjangoValidationError as exc:
            raise refusal(exc) from None
        return APIResponse(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        request=inline_serializer(
            "QuestionMove", {"direction": serializers.ChoiceField(choices=["up", "down"])}
        ),
        responses={200: QuestionSerializer(many=True)},
    )
    @action(detail=True, methods=["post"], pagination_class=None)
    def move(self, request: Request, *args: Any, **kwargs: Any) -> APIResponse:
        """Move a question one place up or down (across pages at a page's edge); the answer is
        every question in the new order."""
        question = self.get_object()
        direction = request.data.get("direction") if isinstance(request.data, dict) else None
        if direction not in ("up", "down"):
            raise serializers.ValidationError({"direction": ["Send 'up' or 'down'."]})
        try:
            builder.move(question, direction)
        except DjangoValidationError as exc:
            raise refusal(exc) from None
        questions = self.get_queryset().order_by("order", "pk")
        return APIResponse(self.get_serializer(questions, many=True).data)

    @extend_schema(request=QuestionOrderSerializer, responses={200: QuestionSerializer(many=True)})
    @action(detail=False, methods=["post"], pagination_class=None)
    def reorder(self, request: Request, *args: Any, **kwargs: Any) -> APIResponse:
        """Put the survey in a new order (what drag and drop sends): `pages` lists every page
        in its new place with its questions' ids in order, page null for the questions without
        a page; every page and question of the survey is named once."""
        form = QuestionOrderSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        arrangement = [(item["page"], item["questions"]) for item in form.validated_data["pages"]]
        try:
            builder.reorder(self.survey, arrangement)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"pages": refused_messages(exc)}) from None
        questions = self.get_queryset().order_by("order", "pk")
        return APIResponse(self.get_serializer(questions, many=True).data)


def refused_messages(exc: DjangoValidationError) -> list[str]:
    return list(exc.messages)


# --- Links (owners only) ----------------------------------------------------------------------


class LinkSerializer(serializers.ModelSerializer):
    participant = serializers.CharField(source="participant.code", read_only=True)
    workshop = serializers.CharField(
        source="participant.workshop.code", read_only=True, default=None
    )
    url = serializers.SerializerMethodField(help_text="The participant's private link.")
    status = serializers.SerializerMethodField(help_text="invited, started or completed.")

    class Meta:
        model = Invitation
        fields = [
            "id",
            "participant",
            "workshop",
            "language",
            "email",
            "url",
            "status",
            "sent_at",
            "created_at",
        ]
        read_only_fields = ["language", "sent_at", "created_at"]

    def get_url(self, invitation: Invitation) -> str:
        return distribution.link_url(self.context["request"], invitation)

    def get_status(self, invitation: Invitation) -> str:
        found = self.context.get("statuses")
        if found is None:
            found = self.context["statuses"] = distribution.statuses(invitation.survey)
        return distribution.status_of(invitation, found)


class LinksRequestSerializer(serializers.Serializer):
    participants = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        allow_empty=False,
        help_text="Participant codes (or aliases from the roster).",
    )
    all = serializers.BooleanField(required=False, help_text="Every participant of the study.")
    language = serializers.CharField(
        required=False,
        help_text="One of the survey's languages; by default each "
        "participant's workshop language where the survey has it.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("participants")) == bool(attrs.get("all")):
            raise serializers.ValidationError(
                {"participants": ["Name the participants by code, or send all=true (not both)."]}
            )
        return attrs


class LinksCreatedSerializer(serializers.Serializer):
    created = serializers.IntegerField()
    summary = serializers.CharField()
    links = LinkSerializer(many=True)


class SendRequestSerializer(serializers.Serializer):
    participants = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        allow_empty=False,
        help_text="Send these participants' links (again); left out: every link not sent yet.",
    )


class SentSerializer(serializers.Serializer):
    sent = serializers.IntegerField()
    without_address = serializers.IntegerField()
    answered = serializers.IntegerField()
    summary = serializers.CharField()


class LinkFilter(django_filters.FilterSet):
    workshop = django_filters.CharFilter(field_name="participant__workshop__code")
    participant = django_filters.CharFilter(field_name="participant__code")

    class Meta:
        model = Invitation
        fields = ["workshop", "participant", "language"]


class LinkViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    SurveyScopedViewSet,
):
    """Participants' private links to a survey: owners only, since a link answers as its
    participant. POST makes links (for given participants or all; a participant keeps the link
    they have), PATCH changes a link's e-mail address, and send/ e-mails them."""

    serializer_class = LinkSerializer
    filterset_class = LinkFilter
    read_role = OWNER
    write_role = OWNER
    http_method_names = ["get", "post", "patch", "head", "options"]
    ordering_fields = ["participant__code", "sent_at", "created_at", "id"]
    ordering = ["participant__workshop__code", "participant__code"]

    def get_queryset(self) -> QuerySet[Invitation]:
        if schema_only(self):
            return Invitation.objects.none()
        return Invitation.objects.filter(survey=self.survey).select_related(
            "survey", "participant", "participant__workshop"
        )

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if hasattr(self, "survey"):
            context["statuses"] = distribution.statuses(self.survey)
        return context

    def _participants(self, names: list[str]) -> list[Any]:
        """The study's participants by code or alias; every unknown name is named."""
        by_name: dict[str, Any] = {}
        for participant in self.study.participants.all():
            for name in [participant.code, *participant.alias_list]:
                by_name.setdefault(name.casefold(), participant)
        unknown = [name for name in names if name.strip().casefold() not in by_name]
        if unknown:
            raise serializers.ValidationError(
                {"participants": [f"Not a participant of {self.study.slug}: {', '.join(unknown)}."]}
            )
        return list(
            {
                by_name[name.strip().casefold()].pk: by_name[name.strip().casefold()]
                for name in names
            }.values()
        )

    @extend_schema(request=LinksRequestSerializer, responses={201: LinksCreatedSerializer})
    def create(self, request: Request, *args: Any, **kwargs: Any) -> APIResponse:
        form = LinksRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        data = form.validated_data
        chosen = None if data.get("all") else self._participants(data["participants"])
        try:
            created = distribution.create_links(self.survey, chosen, language=data.get("language"))
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"language": refused_messages(exc)}) from None
        links = self.get_queryset().order_by(*self.ordering)
        if chosen is not None:
            links = links.filter(participant__in=chosen)
        body = {
            "created": created,
            "summary": f"Made {plural(created, 'new link')}; "
            f"{plural(links.count(), 'participant has', 'participants have')} a link now.",
            "links": self.get_serializer(links, many=True).data,
        }
        return APIResponse(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=inline_serializer("LinkEmail", {"email": serializers.CharField(allow_blank=True)}),
        responses={200: LinkSerializer},
    )
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> APIResponse:
        """Change the e-mail address a link is sent to ("" removes it)."""
        invitation = self.get_object()
        email = request.data.get("email") if isinstance(request.data, dict) else None
        if not isinstance(email, str):
            raise serializers.ValidationError({"email": ["Send the e-mail address as 'email'."]})
        try:
            distribution.set_email(invitation, email)
        except DjangoValidationError as exc:
            raise serializers.ValidationError({"email": refused_messages(exc)}) from None
        return APIResponse(self.get_serializer(invitation).data)

    @extend_schema(request=SendRequestSerializer, responses={200: SentSerializer})
    @action(detail=False, methods=["post"])
    def send(self, request: Request, *args: Any, **kwargs: Any) -> APIResponse:
        """E-mail the links: the given participants' (again, if sent before), or every link
        with an address not sent yet. Links without an address, and participants who have
        submitted, are counted and left alone."""
        form = SendRequestSerializer(data=request.data)
        form.is_valid(raise_exception=True)
        names = form.validated_data.get("participants")
        if names is None:
            links = list(distribution.unsent(self.survey))
        else:
            chosen = self._participants(names)
            links = list(self.survey.invitations.filter(participant__in=chosen))
            missing = {p.pk for p in chosen} - {link.participant_id for link in links}
            if missing:
                codes = sorted(p.code for p in chosen if p.pk in missing)
                raise serializers.ValidationError(
                    {"participants": [f"No link yet for {', '.join(codes)}: make them first."]}
                )
        sent = distribution.send_links(self.survey, links, base_url=request.build_absolute_uri("/"))
        return APIResponse({**dataclasses.asdict(sent), "summary": sent.summary()})


# --- Responses (owners only) ------------------------------------------------------------------


class AnswerSerializer(serializers.ModelSerializer):
    question = serializers.CharField(source="question.code", read_only=True)

    class Meta:
        model = Answer
        fields = ["question", "item", "value"]


class ResponseSerializer(serializers.ModelSerializer):
    participant = serializers.CharField(source="participant.code", read_only=True, default=None)
    workshop = serializers.CharField(
        source="participant.workshop.code", read_only=True, default=None
    )
    status = serializers.SerializerMethodField(help_text="draft or submitted.")
    answers = AnswerSerializer(many=True, read_only=True)

    class Meta:
        model = Response
        fields = [
            "id",
            "participant",
            "workshop",
            "language",
            "status",
            "source",
            "started_at",
            "updated_at",
            "submitted_at",
            "answers",
        ]

    def get_status(self, response: Response) -> str:
        return "submitted" if response.is_submitted else "draft"


class ResponseFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(
        choices=[("draft", "draft"), ("submitted", "submitted")], method="by_status"
    )
    participant = django_filters.CharFilter(field_name="participant__code")
    workshop = django_filters.CharFilter(field_name="participant__workshop__code")

    class Meta:
        model = Response
        fields = ["status", "participant", "workshop"]

    def by_status(self, responses: QuerySet[Response], name: str, value: str) -> QuerySet:
        return responses.filter(submitted_at__isnull=value == "draft")


class ResponsesUploadSerializer(serializers.Serializer):
    file = serializers.FileField(
        help_text="A .csv or .xlsx: the participant's code in the first column, one column "
        "per question (its code or label; code/row for a matrix row)."
    )
    replace = serializers.BooleanField(
        required=False, help_text="Replace responses these participants already submitted."
    )
    mapping = serializers.CharField(
        required=False,
        help_text='JSON: {column header: question code, code/row for a matrix row, or "" to '
        "ignore it}; columns it leaves out are matched by header.",
    )


def column_mapping(raw: object) -> dict[str, str] | None:
    """The optional `mapping` of an import: a JSON object of column header -> what it answers
    (a question's code, `code/row` for a matrix row, or "" to ignore the column)."""
    if raw in (None, ""):
        return None
    try:
        mapping = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        mapping = None
    if not isinstance(mapping, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
    ):
        raise serializers.ValidationError(
            {
                "mapping": [
                    'A JSON object of column header to question code ("" to ignore the '
                    'column), e.g. {"Q1": "trust", "Notes": ""}.'
                ]
            }
        )
    return mapping


class ResponsesImportedSerializer(serializers.Serializer):
    imported = serializers.IntegerField()
    replaced = serializers.ListField(child=serializers.CharField())
    columns = serializers.DictField(child=serializers.CharField())
    columns_ignored = serializers.ListField(child=serializers.CharField())
    summary = serializers.CharField()


class ResponseViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, SurveyScopedViewSet):
    """A survey's individual responses with their answers (question code, matrix row or
    _other as item, value as stored: option codes for closed questions): owners only. Owners
    also import responses collected elsewhere."""

    serializer_class = ResponseSerializer
    filterset_class = ResponseFilter
    read_role = OWNER
    write_role = OWNER
    ordering_fields = ["started_at", "updated_at", "submitted_at", "id"]
    ordering = ["started_at", "id"]

    def get_queryset(self) -> QuerySet[Response]:
        if schema_only(self):
            return Response.objects.none()
        answers = Answer.objects.select_related("question").order_by(
            "question__order", "question__pk", "item"
        )
        return (
            Response.objects.filter(survey=self.survey)
            .select_related("participant", "participant__workshop")
            .prefetch_related(Prefetch("answers", queryset=answers))
        )

    @extend_schema(
        request={"multipart/form-data": ResponsesUploadSerializer},
        responses={200: ResponsesImportedSerializer, 400: OpenApiTypes.OBJECT},
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[MultiPartParser],
    )
    def import_file(self, request: Request, *args: Any, **kwargs: Any) -> APIResponse:
        """Import responses from a .csv or .xlsx, all or nothing: the file is checked whole,
        and any problem refuses it (400 with every problem's row, column and value) with
        nothing written. `replace=true` replaces responses already submitted."""
        filename, data = one_file(request, ".csv or .xlsx")
        replace = is_true(request.data.get("replace", ""))
        mapping = column_mapping(request.data.get("mapping"))
        try:
            plan = plan_responses(
                survey=self.survey,
                filename=filename,
                data=data,
                replace=replace,
                mapping=mapping,
                collect=True,
            )
            if plan.problems:
                errors = [
                    {"row": p.row, "column": p.column, "value": p.value, "message": p.reason}
                    for p in plan.problems
                ]
                return APIResponse(
                    {"file": [p.message for p in plan.problems], "errors": errors},
                    status=status.HTTP_400_BAD_REQUEST,
                )
            apply_responses(plan=plan, imported_by=request.user)
        except FileRejected as exc:
            return file_refusal(exc)
        return APIResponse(
            {
                "imported": plan.rows,
                "replaced": plan.replaced,
                "columns": plan.columns,
                "columns_ignored": plan.columns_ignored,
                "summary": plan.summary(),
            }
        )

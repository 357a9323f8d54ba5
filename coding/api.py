"""REST endpoints of the coding workbench: codings, memos, suggestion decisions, the codebook,
assignments and agreement.

Every coding is written by `coding.services.apply_codings` (one or a thousand at once), so the
API, the web pages, search and adjudication check spans and move assignments in one way. What a
person may see goes through one door: `Coding.objects.visible_to(access)` and
`Memo.objects.visible_to(access)`, decided by `studies.access.Access.sees_others`.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import api_view, parser_classes
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import FormParser
from rest_framework.request import Request
from rest_framework.response import Response

from coding import idempotency
from coding.jobs import BLIND, start_reliability
from coding.models import Assignment, Code, Coding, Memo, SuggestionDecision, code_paths
from coding.reliability import UNITS, Scope, ScopeError, machine_labels
from coding.services import (
    CodebookError,
    CodingSpan,
    CodingsRefused,
    apply_codings,
    create_code,
    delete_code,
    may_change,
    move_code,
    recode_coding,
    remove_codings,
    update_code,
)
from studies.access import (
    CODER,
    OWNER,
    VIEWER,
    Access,
    get_study_for_user,
    role_in,
)
from studies.api import StudyScopedResourceViewSet, schema_only
from studies.api_jobs import ACCEPTED, job_accepted, job_json
from studies.jobs import runs_in_background
from studies.models import Document, Job, Study
from studies.nul import JSONParser, MultiPartParser

BULK_MAX = 1000

IDEMPOTENCY_KEY = OpenApiParameter(
    idempotency.HEADER,
    str,
    location=OpenApiParameter.HEADER,
    required=False,
    description="Any new random string (e.g. a UUID) per change. Sent again with the same "
    "request within a day, it returns the first answer and writes nothing new.",
)


def study_counts(access: Access) -> dict[str, int]:
    """The codebook's codes and the codings `access` may see, for the study's `counts`."""
    codings = Coding.objects.filter(document__study=access.study).visible_to(access)
    return {"codes": access.study.codes.count(), "codings": codings.count()}


def document_access(user: object, document_id: object, *, min_role: str) -> tuple[int, Access]:
    """The document's id and the user's access to its study, in two small queries. An outsider
    gets 404 as if the document did not exist; a member below `min_role` 403."""
    try:
        document_id = int(document_id)
    except (TypeError, ValueError):
        raise serializers.ValidationError({"document": ["A document id is a number."]}) from None
    row = (
        Document.objects.filter(pk=document_id)
        .values_list("study_id", "study__blind_coding", "study__archived_at")
        .first()
    )
    if row is None:
        raise Http404("No such document.")
    study = Study(pk=row[0], blind_coding=row[1], archived_at=row[2])
    access = Access(study, user, role_in(row[0], user))
    access.require(min_role)
    return document_id, access


def refused(exc: CodingsRefused, *, single: bool) -> Exception:
    """The API's answer to refused codings: one coding's field errors, or every item's by its
    index; a single coding in a document the user may not see is not found (404)."""
    if single:
        if exc.hidden:
            return Http404("No such document.")
        return serializers.ValidationError(exc.errors[0])
    return serializers.ValidationError({"items": {str(i): e for i, e in exc.errors.items()}})


def write(request: Request, spans: list[CodingSpan], *, single: bool) -> Any:
    try:
        return apply_codings(user=request.user, spans=spans)
    except CodingsRefused as exc:
        raise refused(exc, single=single) from None
    except DjangoPermissionDenied as exc:
        raise PermissionDenied(str(exc)) from None


# --- Codings --------------------------------------------------------------------------------


# Ids are 64-bit (BigAutoField): a larger number is no id, and would overflow the database.
ID_MAX = 2**63 - 1


POSITIVE_MAX = 2**31 - 1  # a PositiveIntegerField's range on every database we support


# Declared field by field rather than as a ModelSerializer, which introspects the model again for
# every instance: that was a fifth of the time it takes to save one coding.
class CodingSerializer(serializers.Serializer):
    """A coding: a span [start, end) of a document's text with a code, by a coder."""

    id = serializers.IntegerField(read_only=True)
    document = serializers.IntegerField(source="document_id", min_value=1, max_value=ID_MAX)
    code = serializers.IntegerField(source="code_id", min_value=1, max_value=ID_MAX)
    coder = serializers.CharField(source="coder.username", read_only=True)
    start = serializers.IntegerField(min_value=0, max_value=POSITIVE_MAX)
    end = serializers.IntegerField(min_value=0, max_value=POSITIVE_MAX)
    consensus = serializers.BooleanField(required=False)
    created_at = serializers.DateTimeField(read_only=True)

    def span(self) -> CodingSpan:
        """The validated shape as a span to write; the rules are apply_codings'."""
        data = self.validated_data
        return CodingSpan(
            document=data["document_id"],
            code=data["code_id"],
            start=data["start"],
            end=data["end"],
            consensus=data.get("consensus", False),
        )


def coding_or_404(pk: object) -> Coding:
    """A coding by its id from the URL; anything but a whole number is simply not found."""
    if not str(pk).isdigit():
        raise Http404("No such coding.")
    coding = Coding.objects.filter(pk=int(pk)).select_related("coder").first()
    if coding is None:
        raise Http404("No such coding.")
    return coding


# Every handler also takes the router's `format` suffix (/codings/7.json).
class CodingViewSet(viewsets.GenericViewSet):
    """Codings of one document (`?document=ID`, narrowed by `code`, an id, and `coder`, a
    username); blind coding applies first, so a filter never reaches past what the user may
    see. A coder creates, recodes and removes their own codings; owners also the consensus."""

    serializer_class = CodingSerializer

    def get_queryset(self) -> QuerySet[Coding]:
        return Coding.objects.select_related("coder")

    def list(self, request: Request, **_format: object) -> Response:
        document_id, access = document_access(
            request.user, request.query_params.get("document"), min_role=VIEWER
        )
        codings = Coding.objects.filter(document_id=document_id).visible_to(access)
        code = request.query_params.get("code")
        if code:
            if not code.isdigit():
                raise serializers.ValidationError({"code": ["A code id is a number."]})
            codings = codings.filter(code_id=int(code))
        coder = request.query_params.get("coder")
        if coder:
            codings = codings.filter(coder__username=coder)
        codings = codings.select_related("coder").order_by("start", "end", "pk")
        return Response(CodingSerializer(codings, many=True).data)

    @extend_schema(parameters=[IDEMPOTENCY_KEY])
    def create(self, request: Request, **_format: object) -> Response:
        return idempotency.respond(request, lambda: self._create(request))

    def _create(self, request: Request) -> Response:
        serializer = CodingSerializer(data=request.data)
        if not serializer.is_valid():
            # Access comes first: an outsider learns "not found", not what is wrong with the rest.
            document = request.data.get("document") if isinstance(request.data, dict) else None
            if str(document).isdigit():
                document_access(request.user, document, min_role=CODER)
            raise serializers.ValidationError(serializer.errors)
        result = write(request, [serializer.span()], single=True)
        if result.existing:
            # The same span, code and coder again (a double click): the coding already exists.
            return Response(CodingSerializer(result.existing[0]).data, status=status.HTTP_200_OK)
        return Response(CodingSerializer(result.created[0]).data, status=status.HTTP_201_CREATED)

    def _visible(self, request: Request, pk: str) -> tuple[Coding, Access]:
        coding = coding_or_404(pk)
        _id, access = document_access(request.user, coding.document_id, min_role=VIEWER)
        if not Coding.objects.filter(pk=coding.pk).visible_to(access).exists():
            raise Http404("No such coding.")
        return coding, access

    def _changeable(self, request: Request, pk: str) -> tuple[Coding, Access]:
        coding, access = self._visible(request, pk)
        if not may_change(access, coding):
            raise PermissionDenied("Only the coder who made a coding can change or remove it.")
        return coding, access

    def retrieve(self, request: Request, pk: str, **_format: object) -> Response:
        coding, _access = self._visible(request, pk)
        return Response(CodingSerializer(coding).data)

    def partial_update(self, request: Request, pk: str, **_format: object) -> Response:
        coding, _access = self._changeable(request, pk)
        serializer = CodingSerializer(coding, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        # Only the code of an existing coding may change (recode); its span stays.
        changed = sorted(k for k in request.data if k != "code")
        if changed:
            raise serializers.ValidationError(
                {name: ["Only the code of a coding can change."] for name in changed}
            )
        code_id = serializer.validated_data.get("code_id", coding.code_id)
        try:
            recode_coding(user=request.user, coding=coding, code_id=code_id)
        except CodingsRefused as exc:
            raise refused(exc, single=True) from None
        return Response(CodingSerializer(coding).data)

    @extend_schema(parameters=[IDEMPOTENCY_KEY])
    def destroy(self, request: Request, pk: str, **_format: object) -> Response:
        return idempotency.respond(request, lambda: self._destroy(request, pk))

    def _destroy(self, request: Request, pk: str) -> Response:
        coding, access = self._changeable(request, pk)
        remove_codings(access=access, codings=[coding])
        return Response(status=status.HTTP_204_NO_CONTENT)


def _bulk_items(data: object) -> list[object]:
    """The request's list of codings: the body itself, or its "codings"."""
    items = data.get("codings") if isinstance(data, dict) else data
    if not isinstance(items, list) or not items:
        raise serializers.ValidationError(
            {"codings": ["Send a non-empty list of {document, code, start, end}."]}
        )
    if len(items) > BULK_MAX:
        raise serializers.ValidationError(
            {"codings": [f"At most {BULK_MAX} codings per request; this has {len(items)}."]}
        )
    return items


def _bulk_spans(items: list[object]) -> list[CodingSpan]:
    """Each item's shape checked like a single POST /codings/; every refusal is reported with its
    index, and one refusal refuses them all. The rules are then apply_codings' (one query for
    the whole batch)."""
    spans: list[CodingSpan] = []
    errors: dict[str, object] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors[str(index)] = {"non_field_errors": ["Each item is an object."]}
            continue
        serializer = CodingSerializer(data=item)
        if not serializer.is_valid():
            errors[str(index)] = serializer.errors
            continue
        spans.append(serializer.span())
    if errors:
        raise serializers.ValidationError({"items": errors})
    return spans


class BulkCodingsResultSerializer(serializers.Serializer):
    created = CodingSerializer(many=True)
    existing = CodingSerializer(many=True)


@extend_schema(
    request=CodingSerializer(many=True),
    responses={201: BulkCodingsResultSerializer},
    parameters=[IDEMPOTENCY_KEY],
)
@api_view(["POST"])
def bulk_codings(request: Request) -> Response:
    """Apply up to 1000 codings in one transaction, all or nothing. Answers 201 with
    `created` (new codings) and `existing` (those the user had already made, left as they
    were), each in the order the items came."""
    return idempotency.respond(request, lambda: _bulk_write(request))


def _bulk_write(request: Request) -> Response:
    result = write(request, _bulk_spans(_bulk_items(request.data)), single=False)
    return Response(
        {
            "created": CodingSerializer(result.created, many=True).data,
            "existing": CodingSerializer(result.existing, many=True).data,
        },
        status=status.HTTP_201_CREATED,
    )


# --- Memos ----------------------------------------------------------------------------------


class MemoSerializer(serializers.ModelSerializer):
    author = serializers.CharField(source="author.username", read_only=True)
    study = serializers.SlugRelatedField(slug_field="slug", queryset=Study.objects.all())

    class Meta:
        model = Memo
        fields = [
            "id",
            "study",
            "document",
            "code",
            "coding",
            "text",
            "author",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "author", "created_at", "updated_at"]

    def validate(self, attrs: dict) -> dict:
        request = self.context["request"]
        study = attrs.get("study") or self.instance.study
        access = Access(study, request.user, role_in(study, request.user))
        access.require(CODER)
        targets = [name for name in ("document", "code", "coding") if attrs.get(name)]
        if len(targets) > 1:
            raise serializers.ValidationError(
                {"non_field_errors": ["A memo is about one thing: a document, a code or a coding."]}
            )
        for name in targets:
            target = attrs[name]
            study_id = target.document.study_id if name == "coding" else target.study_id
            if study_id != study.pk:
                raise serializers.ValidationError({name: ["Not part of this study."]})
            # A coding the writer may not see (blind coding) does not exist for them.
            if name == "coding" and not (
                Coding.objects.filter(pk=target.pk).visible_to(access).exists()
            ):
                raise serializers.ValidationError({name: ["No such coding."]})
        return attrs


class MemoViewSet(viewsets.ModelViewSet):
    serializer_class = MemoSerializer
    # Only names the model for the API schema (`check --deploy` builds it without a user);
    # get_queryset decides which memos a person sees.
    queryset = Memo.objects.none()
    http_method_names = ["get", "post", "patch", "delete"]

    def get_queryset(self) -> QuerySet[Memo]:
        memos = Memo.objects.for_user(self.request.user).select_related("author", "study")
        for name in ("document", "code", "coding"):
            value = self.request.query_params.get(name)
            if value and value.isdigit():
                memos = memos.filter(**{name: value})
        return memos

    def perform_create(self, serializer: MemoSerializer) -> None:
        serializer.save(author=self.request.user)

    def _check_author(self, memo: Memo) -> None:
        if memo.author_id != self.request.user.pk:
            raise PermissionDenied("Only a memo's author can change or remove it.")

    def perform_update(self, serializer: MemoSerializer) -> None:
        self._check_author(serializer.instance)
        serializer.save()

    def perform_destroy(self, instance: Memo) -> None:
        self._check_author(instance)
        instance.delete()


# --- Suggestions ----------------------------------------------------------------------------


class SuggestionDecisionSerializer(serializers.Serializer):
    document = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    code = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    start = serializers.IntegerField(min_value=0, max_value=ID_MAX)
    end = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    verdict = serializers.ChoiceField(choices=SuggestionDecision.Verdict.choices)


class SuggestionVerdictSerializer(serializers.Serializer):
    """The answer to a decision: the verdict, and the coding an acceptance made (or found)."""

    verdict = serializers.ChoiceField(choices=SuggestionDecision.Verdict.choices)
    coding = CodingSerializer(allow_null=True)


class SuggestionDecisionViewSet(viewsets.GenericViewSet):
    """Accept (which creates the coding) or reject a suggestion, so it is not offered again."""

    serializer_class = SuggestionDecisionSerializer

    @extend_schema(responses={201: SuggestionVerdictSerializer})
    def create(self, request: Request, **_format: object) -> Response:
        decision = SuggestionDecisionSerializer(data=request.data)
        decision.is_valid(raise_exception=True)
        data = decision.validated_data
        span = CodingSpan(data["document"], data["code"], data["start"], data["end"])
        coding_data = None
        with transaction.atomic():
            if data["verdict"] == SuggestionDecision.Verdict.ACCEPTED:
                result = write(request, [span], single=True)
                coding_data = CodingSerializer([*result.created, *result.existing][0]).data
            else:
                _id, access = document_access(request.user, span.document, min_role=CODER)
                if not Code.objects.filter(pk=span.code, study_id=access.study.pk).exists():
                    raise serializers.ValidationError({"code": ["No such code in this study."]})
            SuggestionDecision.objects.update_or_create(
                document_id=span.document,
                code_id=span.code,
                user=request.user,
                start=span.start,
                end=span.end,
                defaults={"verdict": data["verdict"]},
            )
            if data["verdict"] == SuggestionDecision.Verdict.REJECTED:
                not_this(request.user, span)
        return Response(
            {"verdict": data["verdict"], "coding": coding_data}, status=status.HTTP_201_CREATED
        )


def not_this(user: object, span: CodingSpan) -> None:
    """Rejecting a machine's suggestion is also "not this" for the learned engine's next
    training (`coding.machine.steer`)."""
    from coding.machine import steer

    suggested = Coding.objects.machine_layer().filter(
        document_id=span.document, code_id=span.code, start=span.start, end=span.end
    )
    if suggested.exists():
        document = Document.objects.get(pk=span.document)
        steer(
            user=user,
            document=document,
            code_id=span.code,
            start=span.start,
            end=span.end,
            positive=False,
        )


# --- Agreement ------------------------------------------------------------------------------


RELIABILITY_PARAMETERS = [
    OpenApiParameter("unit", str, enum=list(UNITS)),
    OpenApiParameter("coders", str, description="Comma-separated usernames"),
    OpenApiParameter("round", int, description="An agreement round's id: its documents and coders"),
    OpenApiParameter(
        "machines", str, enum=["on", "off"], description="off: leave machine coders out"
    ),
]


def reliability_scope(request: Request, study: Study, data: object) -> Scope:
    """The scope asked for in a query (GET) or a body (POST), each name checked. With blind
    coding on, coders may not see agreement (the figures would tell them about each other's
    work); owners and viewers may, as on the Reliability page."""
    if not study.access.sees_others:
        raise PermissionDenied(BLIND)
    unit = data.get("unit") or "sentence"
    if unit not in UNITS:
        raise serializers.ValidationError({"unit": [f"Use one of {', '.join(UNITS)}."]})
    # A query or a form may repeat the field; JSON gives a list or one string.
    names = data.getlist("coders") if hasattr(data, "getlist") else data.get("coders") or []
    if isinstance(names, str):
        names = [names]
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        raise serializers.ValidationError({"coders": ["Give usernames, comma-separated."]})
    names = [name.strip() for value in names for name in value.split(",") if name.strip()]
    round_id = data.get("round")
    machines = data.get("machines", "on")
    if machines not in ("on", "off", True, False):
        raise serializers.ValidationError({"machines": ["Use on or off."]})
    try:
        scope = Scope.of(
            study, unit=unit, round_id=round_id, wanted=names, machines=machines in ("on", True)
        )
    except ScopeError as exc:
        raise serializers.ValidationError({"round": [str(exc)]}) from None
    known = {coder.get_username() for coder in scope.candidates}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise serializers.ValidationError(
            {"coders": [f"Not a coder of this study: {', '.join(unknown)}."]}
        )
    return scope


@extend_schema(parameters=RELIABILITY_PARAMETERS, responses=OpenApiTypes.OBJECT)
@extend_schema(
    methods=["POST"],
    parameters=[],
    request=OpenApiTypes.OBJECT,
    description="The same table computed as a job (for a large study): a body with unit, "
    "coders (a list or a comma-separated string), round and machines; 201 with the finished "
    "job, whose data is the table, or 202 while it waits for a worker.",
    responses={201: OpenApiTypes.OBJECT, 202: ACCEPTED},
)
@api_view(["GET", "POST"])
@parser_classes([JSONParser, FormParser, MultiPartParser])
def reliability(request: Request, slug: str) -> Response:
    """Agreement per code and overall, the same JSON as `manage.py reliability` (GET), or the
    same computed as a job (POST)."""
    study = get_study_for_user(request.user, slug)
    if request.method == "POST":
        scope = reliability_scope(request, study, request.data)
        job = start_reliability(study=study, user=request.user, scope=scope)
        if runs_in_background():
            return job_accepted(request, job)
        if job.status == Job.Status.FAILED:
            return Response({"detail": job.error, **job.data}, status=400)
        return Response(job_json(request, job), status=201)
    scope = reliability_scope(request, study, request.query_params)
    try:
        report = scope.compute(study)
    except ValueError as exc:
        raise serializers.ValidationError({"coders": [str(exc)]}) from None
    labels = machine_labels(study)
    return Response(
        {
            **report.as_json(),
            "machines": {name: labels[name] for name in report.coders if name in labels},
        }
    )


# --- The codebook ---------------------------------------------------------------------------


def codebook_refusal(exc: CodebookError) -> serializers.ValidationError:
    return serializers.ValidationError({exc.field or "non_field_errors": [str(exc)]})


class CodeSerializer(serializers.ModelSerializer):
    parent = serializers.PrimaryKeyRelatedField(
        queryset=Code.objects.none(), allow_null=True, required=False
    )
    path = serializers.SerializerMethodField()
    # The codebook's own rules (name clashes, colours, shortcuts) are checked by
    # coding.services with messages people understand; here only the shapes are.
    name = serializers.CharField(max_length=200)
    shortcut = serializers.IntegerField(allow_null=True, required=False)

    class Meta:
        model = Code
        fields = [
            "id",
            "parent",
            "name",
            "path",
            "colour",
            "definition",
            "inclusion",
            "exclusion",
            "example",
            "codable",
            "shortcut",
        ]
        extra_kwargs = {"colour": {"validators": []}}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        study = self.context.get("study")
        if study is not None:
            self.fields["parent"].queryset = Code.objects.filter(study=study)

    def get_path(self, code: Code) -> str:
        paths = self.context.get("paths")
        if paths is None:
            paths = code_paths(list(Code.objects.filter(study_id=code.study_id)))
            self.context["paths"] = paths
        return paths.get(code.pk) or code.path


class CodeViewSet(StudyScopedResourceViewSet):
    """The codebook: everyone in the study reads it; owners change it."""

    serializer_class = CodeSerializer
    filterset_fields = ["parent", "codable"]
    ordering_fields = ["name", "id", "order"]
    ordering = ["order", "name"]

    def get_queryset(self) -> QuerySet[Code]:
        if schema_only(self):
            return Code.objects.none()
        return Code.objects.filter(study=self.study)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if hasattr(self, "study"):
            # Every code's path from one query, whatever the page holds.
            context["paths"] = code_paths(list(Code.objects.filter(study=self.study)))
        return context

    def perform_create(self, serializer: CodeSerializer) -> None:
        fields = dict(serializer.validated_data)
        try:
            code = create_code(
                study=self.study,
                name=fields.pop("name"),
                parent=fields.pop("parent", None),
                **fields,
            )
        except CodebookError as exc:
            raise codebook_refusal(exc) from None
        serializer.instance = code
        serializer.context["paths"] = code_paths(list(Code.objects.filter(study=self.study)))

    def perform_update(self, serializer: CodeSerializer) -> None:
        fields = dict(serializer.validated_data)
        code = serializer.instance
        try:
            with transaction.atomic():
                if "parent" in fields:
                    parent = fields.pop("parent")
                    if parent != code.parent:
                        code = move_code(code=code, parent=parent)
                code = update_code(code=code, **fields)
        except CodebookError as exc:
            raise codebook_refusal(exc) from None
        serializer.instance = code
        serializer.context["paths"] = code_paths(list(Code.objects.filter(study=self.study)))

    def perform_destroy(self, instance: Code) -> None:
        try:
            delete_code(code=instance)
        except CodebookError as exc:
            raise serializers.ValidationError({"detail": str(exc)}) from None


# --- Assignments ----------------------------------------------------------------------------


class AssignmentSerializer(serializers.ModelSerializer):
    document = serializers.PrimaryKeyRelatedField(queryset=Document.objects.none())
    coder = serializers.SlugRelatedField(
        slug_field="username", queryset=get_user_model().objects.none()
    )
    assigned_by = serializers.CharField(source="assigned_by.username", read_only=True, default=None)

    class Meta:
        model = Assignment
        fields = ["id", "document", "coder", "status", "assigned_by", "created_at", "updated_at"]
        read_only_fields = ["id", "assigned_by", "created_at", "updated_at"]
        validators: list = []  # the unique pair is refused below with a sentence

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        study = self.context.get("study")
        if study is not None:
            self.fields["document"].queryset = Document.objects.filter(study=study)
            # Assignments go to the people who code: coders and owners (as in the web UI).
            self.fields["coder"].queryset = get_user_model().objects.filter(
                memberships__study=study, memberships__role__in=[CODER, OWNER]
            )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if self.instance is not None:
            changed = sorted(set(attrs) - {"status"})
            if changed:
                raise serializers.ValidationError(
                    {name: ["Only an assignment's status can change."] for name in changed}
                )
        elif Assignment.objects.filter(document=attrs["document"], coder=attrs["coder"]).exists():
            raise serializers.ValidationError(
                {"coder": [f"{attrs['coder'].get_username()} is already assigned this document."]}
            )
        return attrs


class AssignmentFilter(django_filters.FilterSet):
    coder = django_filters.CharFilter(field_name="coder__username")

    class Meta:
        model = Assignment
        fields = ["coder", "document", "status"]


class AssignmentViewSet(StudyScopedResourceViewSet):
    """Owners assign documents to coders and see every assignment; everyone else sees their own
    queue. A coder updates the status of their own assignments."""

    serializer_class = AssignmentSerializer
    filterset_class = AssignmentFilter
    ordering_fields = ["status", "created_at", "updated_at", "id", "document__title"]
    ordering = ["document__title", "coder__username"]

    @property
    def write_role(self) -> str:  # type: ignore[override]
        return CODER if self.request.method == "PATCH" else OWNER

    def get_queryset(self) -> QuerySet[Assignment]:
        if schema_only(self):
            return Assignment.objects.none()
        assignments = Assignment.objects.filter(document__study=self.study).select_related(
            "coder", "assigned_by", "document"
        )
        if self.study.user_role != OWNER:
            assignments = assignments.filter(coder=self.request.user)
        return assignments

    def perform_create(self, serializer: AssignmentSerializer) -> None:
        try:
            with transaction.atomic():
                serializer.save(assigned_by=self.request.user)
        except IntegrityError:
            raise serializers.ValidationError(
                {"coder": ["That coder is already assigned this document."]}
            ) from None

    def perform_update(self, serializer: AssignmentSerializer) -> None:
        if serializer.instance.coder_id != self.request.user.pk:
            raise PermissionDenied("Only the assigned coder changes an assignment's status.")
        serializer.save()

"""REST endpoints of the coding workbench: codings, memos and suggestion decisions.

Creating a coding is the hottest path of the product (every click of every coder), so it is
written to cost a fixed, small number of queries however long the document or however many
codings it has: the text is never loaded, only its stored length is read.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import api_view
from rest_framework.exceptions import PermissionDenied
from rest_framework.request import Request
from rest_framework.response import Response

from coding.models import Assignment, Code, Coding, Memo, SuggestionDecision
from coding.reliability import UNITS, compute_reliability
from studies.access import get_study_for_user, require_role, role_in
from studies.models import Document, Membership, Study


@dataclass(frozen=True)
class DocumentScope:
    id: int
    study_id: int
    length: int
    blind: bool
    role: str


def document_scope(user: object, document_id: object, *, min_role: str) -> DocumentScope:
    """The document's study, text length and the user's role, in two small queries. An outsider
    gets 404 as if the document did not exist."""
    try:
        document_id = int(document_id)
    except (TypeError, ValueError):
        raise serializers.ValidationError({"document": ["A document id is a number."]}) from None
    row = (
        Document.objects.filter(pk=document_id)
        .values_list("study_id", "text_length", "study__blind_coding")
        .first()
    )
    if row is None:
        raise Http404("No such document.")
    role = require_role(role_in(row[0], user), min_role)
    return DocumentScope(document_id, row[0], row[1], row[2], role)


class CodingSerializer(serializers.ModelSerializer):
    coder = serializers.CharField(source="coder.username", read_only=True)
    document = serializers.IntegerField(source="document_id")
    code = serializers.IntegerField(source="code_id")

    class Meta:
        model = Coding
        fields = ["id", "document", "code", "coder", "start", "end", "consensus", "created_at"]
        read_only_fields = ["id", "coder", "created_at"]

    def validate(self, attrs: dict) -> dict:
        request = self.context["request"]
        if self.instance is not None:
            # Only the code of an existing coding may change (recode); its span stays.
            changed = {k for k in attrs if k != "code_id"}
            if changed:
                raise serializers.ValidationError(
                    {name: ["Only the code of a coding can change."] for name in changed}
                )
            scope = document_scope(
                request.user, self.instance.document_id, min_role=Membership.Role.CODER
            )
        else:
            scope = document_scope(
                request.user, attrs["document_id"], min_role=Membership.Role.CODER
            )
            start, end = attrs["start"], attrs["end"]
            if end <= start:
                raise serializers.ValidationError({"end": ["end must be greater than start."]})
            if end > scope.length:
                raise serializers.ValidationError(
                    {"end": [f"end {end} is past the end of the text ({scope.length})."]}
                )
            if attrs.get("consensus") and scope.role != Membership.Role.OWNER:
                raise serializers.ValidationError(
                    {"consensus": ["Only the study's owners write the consensus layer."]}
                )
        code = (
            Code.objects.filter(pk=attrs["code_id"], study_id=scope.study_id)
            .values_list("codable", flat=True)
            .first()
            if "code_id" in attrs
            else True
        )
        if code is None:
            raise serializers.ValidationError({"code": ["No such code in this study."]})
        if code is False:
            raise serializers.ValidationError(
                {"code": ["This code groups others and cannot be applied itself."]}
            )
        attrs["scope"] = scope
        return attrs


def coding_or_404(pk: object) -> Coding:
    """A coding by its id from the URL; anything but a whole number is simply not found."""
    if not str(pk).isdigit():
        raise Http404("No such coding.")
    coding = Coding.objects.filter(pk=int(pk)).select_related("coder").first()
    if coding is None:
        raise Http404("No such coding.")
    return coding


class CodingViewSet(viewsets.GenericViewSet):
    serializer_class = CodingSerializer

    def get_queryset(self):
        return Coding.objects.select_related("coder")

    def list(self, request: Request) -> Response:
        scope = document_scope(
            request.user, request.query_params.get("document"), min_role=Membership.Role.VIEWER
        )
        study = Study(pk=scope.study_id, blind_coding=scope.blind)
        codings = (
            Coding.objects.filter(document_id=scope.id)
            .visible_to(study, request.user, scope.role)
            .select_related("coder")
            .order_by("start", "end", "pk")
        )
        return Response(CodingSerializer(codings, many=True).data)

    def create(self, request: Request) -> Response:
        serializer = CodingSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = dict(serializer.validated_data)
        scope: DocumentScope = data.pop("scope")
        fields = {
            "document_id": scope.id,
            "code_id": data["code_id"],
            "coder": request.user,
            "start": data["start"],
            "end": data["end"],
            "consensus": data.get("consensus", False),
        }
        try:
            with transaction.atomic():
                coding = Coding.objects.create(**fields)
        except IntegrityError:
            # The same span, code and coder again (a double click): the coding already exists.
            coding = Coding.objects.get(**fields)
            return Response(CodingSerializer(coding).data, status=status.HTTP_200_OK)
        if not fields["consensus"]:
            Assignment.objects.filter(
                document_id=scope.id, coder=request.user, status=Assignment.Status.NOT_STARTED
            ).update(status=Assignment.Status.IN_PROGRESS)
        return Response(CodingSerializer(coding).data, status=status.HTTP_201_CREATED)

    def _own_coding(self, request: Request, pk: str) -> Coding:
        coding = coding_or_404(pk)
        scope = document_scope(request.user, coding.document_id, min_role=Membership.Role.VIEWER)
        visible = Coding.objects.filter(pk=coding.pk).visible_to(
            Study(pk=scope.study_id, blind_coding=scope.blind), request.user, scope.role
        )
        if not visible.exists():
            raise Http404("No such coding.")
        mine = coding.coder_id == request.user.pk and scope.role != Membership.Role.VIEWER
        adjudicator = coding.consensus and scope.role == Membership.Role.OWNER
        if not (mine or adjudicator):
            raise PermissionDenied("Only the coder who made a coding can change or remove it.")
        return coding

    def retrieve(self, request: Request, pk: str) -> Response:
        coding = coding_or_404(pk)
        scope = document_scope(request.user, coding.document_id, min_role=Membership.Role.VIEWER)
        study = Study(pk=scope.study_id, blind_coding=scope.blind)
        if (
            not Coding.objects.filter(pk=coding.pk)
            .visible_to(study, request.user, scope.role)
            .exists()
        ):
            raise Http404("No such coding.")
        return Response(CodingSerializer(coding).data)

    def partial_update(self, request: Request, pk: str) -> Response:
        coding = self._own_coding(request, pk)
        serializer = CodingSerializer(
            coding, data=request.data, partial=True, context={"request": request}
        )
        serializer.is_valid(raise_exception=True)
        coding.code_id = serializer.validated_data.get("code_id", coding.code_id)
        try:
            with transaction.atomic():
                coding.save(update_fields=["code"])
        except IntegrityError:
            return Response(
                {"code": ["You already applied that code to exactly this span."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        return Response(CodingSerializer(coding).data)

    def destroy(self, request: Request, pk: str) -> Response:
        self._own_coding(request, pk).delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


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
        require_role(role_in(study, request.user), Membership.Role.CODER)
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
        return attrs


class MemoViewSet(viewsets.ModelViewSet):
    serializer_class = MemoSerializer
    http_method_names = ["get", "post", "patch", "delete"]

    def get_queryset(self):
        user = self.request.user
        studies = Study.objects.for_user(user)
        memos = Memo.objects.filter(study__in=studies).select_related("author", "study")
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


class SuggestionDecisionSerializer(serializers.Serializer):
    document = serializers.IntegerField()
    code = serializers.IntegerField()
    start = serializers.IntegerField(min_value=0)
    end = serializers.IntegerField(min_value=1)
    verdict = serializers.ChoiceField(choices=SuggestionDecision.Verdict.choices)


class SuggestionDecisionViewSet(viewsets.GenericViewSet):
    """Accept (which creates the coding) or reject a suggestion, so it is not offered again."""

    serializer_class = SuggestionDecisionSerializer

    def create(self, request: Request) -> Response:
        decision = SuggestionDecisionSerializer(data=request.data)
        decision.is_valid(raise_exception=True)
        data = decision.validated_data
        coding_data = None
        with transaction.atomic():
            if data["verdict"] == SuggestionDecision.Verdict.ACCEPTED:
                coding = CodingSerializer(
                    data={k: data[k] for k in ("document", "code", "start", "end")},
                    context={"request": request},
                )
                coding.is_valid(raise_exception=True)
                scope = coding.validated_data["scope"]
                created, _ = Coding.objects.get_or_create(
                    document_id=scope.id,
                    code_id=data["code"],
                    coder=request.user,
                    start=data["start"],
                    end=data["end"],
                    consensus=False,
                )
                coding_data = CodingSerializer(created).data
            else:
                scope = document_scope(
                    request.user, data["document"], min_role=Membership.Role.CODER
                )
                if not Code.objects.filter(pk=data["code"], study_id=scope.study_id).exists():
                    raise serializers.ValidationError({"code": ["No such code in this study."]})
            SuggestionDecision.objects.update_or_create(
                document_id=scope.id,
                code_id=data["code"],
                user=request.user,
                start=data["start"],
                end=data["end"],
                defaults={"verdict": data["verdict"]},
            )
        return Response(
            {"verdict": data["verdict"], "coding": coding_data}, status=status.HTTP_201_CREATED
        )


@extend_schema(
    parameters=[
        OpenApiParameter("unit", str, enum=list(UNITS)),
        OpenApiParameter("coders", str, description="Comma-separated usernames"),
    ],
    responses=OpenApiTypes.OBJECT,
)
@api_view(["GET"])
def reliability(request: Request, slug: str) -> Response:
    """Agreement per code and overall, the same JSON as `manage.py reliability`. With blind
    coding on, only owners may see it: the figures would tell coders about each other's work."""
    study = get_study_for_user(request.user, slug)
    if study.blind_coding and study.user_role != Membership.Role.OWNER:
        raise PermissionDenied("While blind coding is on, only owners see agreement figures.")
    unit = request.query_params.get("unit", "sentence")
    if unit not in UNITS:
        raise serializers.ValidationError({"unit": [f"Use one of {', '.join(UNITS)}."]})
    coders = None
    if request.query_params.get("coders"):
        names = [n.strip() for n in request.query_params["coders"].split(",") if n.strip()]
        members = {m.user.username: m.user for m in study.memberships.select_related("user")}
        unknown = [name for name in names if name not in members]
        if unknown:
            raise serializers.ValidationError(
                {"coders": [f"Not a member of this study: {', '.join(unknown)}."]}
            )
        coders = [members[name] for name in names]
    try:
        report = compute_reliability(study, unit=unit, coders=coders)
    except ValueError as exc:
        raise serializers.ValidationError({"coders": [str(exc)]}) from None
    return Response(report.as_json())


# --- Filtering the list, and many codings at once -------------------------------------------

BULK_MAX = 1000


class FilteredCodingViewSet(CodingViewSet):
    """CodingViewSet whose list also narrows by `code` (an id) and `coder` (a username). Blind
    coding is applied first, so a filter can never reach past what the user may see."""

    def list(self, request: Request) -> Response:
        scope = document_scope(
            request.user, request.query_params.get("document"), min_role=Membership.Role.VIEWER
        )
        study = Study(pk=scope.study_id, blind_coding=scope.blind)
        codings = Coding.objects.filter(document_id=scope.id).visible_to(
            study, request.user, scope.role
        )
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


def _validated_items(request: Request, items: list[object]) -> list[dict]:
    """Each item validated exactly like a single POST /codings/; every refusal is reported with
    its index, and one refusal refuses them all."""
    rows: list[dict] = []
    errors: dict[str, object] = {}
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            errors[str(index)] = {"non_field_errors": ["Each item is an object."]}
            continue
        serializer = CodingSerializer(data=item, context={"request": request})
        try:
            valid = serializer.is_valid()
        except Http404:
            # In a batch, a document the user cannot see is this item's fault, not the URL's.
            errors[str(index)] = {"document": ["No such document."]}
            continue
        if not valid:
            errors[str(index)] = serializer.errors
            continue
        data = serializer.validated_data
        scope: DocumentScope = data["scope"]
        rows.append(
            {
                "document_id": scope.id,
                "code_id": data["code_id"],
                "start": data["start"],
                "end": data["end"],
                "consensus": data.get("consensus", False),
            }
        )
    if errors:
        raise serializers.ValidationError({"items": errors})
    return rows


class BulkCodingsResultSerializer(serializers.Serializer):
    created = CodingSerializer(many=True)
    existing = CodingSerializer(many=True)


@extend_schema(request=CodingSerializer(many=True), responses={201: BulkCodingsResultSerializer})
@api_view(["POST"])
def bulk_codings(request: Request) -> Response:
    """Apply up to 1000 codings in one transaction, all or nothing. Answers 201 with
    `created` (new codings) and `existing` (those the user had already made, left as they
    were), each in the order the items came."""
    rows = _validated_items(request, _bulk_items(request.data))
    user = request.user
    keys = list(dict.fromkeys(tuple(sorted(row.items())) for row in rows))
    wanted = [dict(key) for key in keys]
    with transaction.atomic():
        existing_filter = Coding.objects.filter(
            coder=user,
            document_id__in={row["document_id"] for row in wanted},
            code_id__in={row["code_id"] for row in wanted},
        )
        existing = {
            (c.document_id, c.code_id, c.start, c.end, c.consensus): c
            for c in existing_filter.select_related("coder")
        }
        new = [
            Coding(coder=user, **row)
            for row in wanted
            if (row["document_id"], row["code_id"], row["start"], row["end"], row["consensus"])
            not in existing
        ]
        try:
            with transaction.atomic():
                Coding.objects.bulk_create(new, batch_size=500)
        except IntegrityError:
            # An identical request ran at the same moment; this one writes nothing.
            return Response(
                {"detail": "Some of these codings were being created at the same time; retry."},
                status=status.HTTP_409_CONFLICT,
            )
        started = {c.document_id for c in new if not c.consensus}
        if started:
            Assignment.objects.filter(
                document_id__in=started, coder=user, status=Assignment.Status.NOT_STARTED
            ).update(status=Assignment.Status.IN_PROGRESS)
    already = [
        existing[(row["document_id"], row["code_id"], row["start"], row["end"], row["consensus"])]
        for row in wanted
        if (row["document_id"], row["code_id"], row["start"], row["end"], row["consensus"])
        in existing
    ]
    return Response(
        {
            "created": CodingSerializer(new, many=True).data,
            "existing": CodingSerializer(already, many=True).data,
        },
        status=status.HTTP_201_CREATED,
    )

"""REST endpoints of a study and what it holds, under /api/v1/studies/{slug}/.

Every endpoint reaches its rows through one door: the studies a user may see are
`Study.objects.for_user(user)`, and everything nested under a study goes through
`get_study_for_user`, so an outsider gets 404 and a member below the needed role 403, exactly as
in the web UI. Writes go through the same services as the web UI (`studies.services` for
imports), so their rules hold here too. The codebook, codings, memos and assignments are served
by `coding.api`: this app, the foundation, imports no other.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import django_filters
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import OuterRef, QuerySet, Subquery
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from studies import invitations
from studies.access import Access, get_document_for_user, get_study_for_user
from studies.api_jobs import ACCEPTED, job_accepted
from studies.importers import FileRejected
from studies.job_handlers import start_transcript_import
from studies.jobs import runs_in_background
from studies.models import (
    Document,
    Job,
    LastOwnerError,
    MemberInvitation,
    Membership,
    Participant,
    PendingImport,
    PrivateName,
    Recording,
    Study,
    Variable,
    Workshop,
    language_list,
    validate_language_tag,
)
from studies.nul import MultiPartParser
from studies.pseudonymise import (
    Pseudonymised,
    add_private_names,
    private_name_counts,
)
from studies.recordings import (
    EXTENSIONS,
    RecordingRejected,
    attach_recording,
    recording_of,
    recording_response,
    remove_recording,
)
from studies.services import (
    RESERVED_SLUGS,
    LanguageNeeded,
    StudyError,
    apply_roster,
    archive_study,
    create_study,
    delete_document,
    delete_study,
    deletion_summary,
    match_speakers,
    plan_roster,
    preview_transcript,
    restore_study,
    update_document,
    update_study,
    update_workshop,
)
from studies.withdrawal import WithdrawalRefused, withdraw_participant, withdrawal_preview

OWNER = Membership.Role.OWNER
CODER = Membership.Role.CODER
VIEWER = Membership.Role.VIEWER
SLUG_REGEX = r"[-a-zA-Z0-9_]+"


def schema_only(view: object) -> bool:
    """drf-spectacular builds the schema from views without a request's URL kwargs."""
    return bool(getattr(view, "swagger_fake_view", False))


def truthy(value: object) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


# What the apps built on this one count in a study (the `counts` of GET /studies/{slug}/):
# each adds a function in its AppConfig.ready(), so that the foundation names none of them.
STUDY_COUNTERS: list[Callable[[Access], dict[str, int]]] = []


# --- Studies --------------------------------------------------------------------------------


class StudySerializer(serializers.ModelSerializer):
    role = serializers.SerializerMethodField()

    class Meta:
        model = Study
        fields = [
            "slug",
            "name",
            "description",
            "languages",
            "blind_coding",
            "role",
            "archived_at",
            "created_at",
        ]
        read_only_fields = ["role", "archived_at", "created_at"]
        extra_kwargs = {
            "slug": {
                "required": False,
                "help_text": "Chosen when the study is created (made from the name when "
                "left out); it never changes.",
            },
            "languages": {"required": False},
        }

    def validate_slug(self, value: str) -> str:
        if self.instance is not None and value != self.instance.slug:
            raise serializers.ValidationError("A study's slug never changes.")
        if value in RESERVED_SLUGS:
            raise serializers.ValidationError(f"'{value}' names a page of the site.")
        return value

    def validate_languages(self, value: str) -> str:
        if not language_list(value):
            raise serializers.ValidationError("Name at least one language, e.g. 'en'.")
        return value

    def get_role(self, study: Study) -> str | None:
        user = self.context["request"].user
        return getattr(study, "my_role", None) or (OWNER if user.is_superuser else None)


class StudyDetailSerializer(StudySerializer):
    counts = serializers.SerializerMethodField()

    class Meta(StudySerializer.Meta):
        fields = [*StudySerializer.Meta.fields, "counts"]

    def get_counts(self, study: Study) -> dict[str, int]:
        """What the study holds, as far as this user may see it (blind coding hides codings)."""
        access = Access(study, self.context["request"].user, self.get_role(study))
        counts = {
            "workshops": study.workshops.count(),
            "participants": study.participants.count(),
            "variables": study.variables.count(),
            "documents": study.documents.count(),
            "members": study.memberships.count(),
        }
        for counter in STUDY_COUNTERS:
            counts |= counter(access)
        return counts


class StudyViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    """The studies the user belongs to (archived ones with `?archived=true`). Any signed-in
    user creates a study and becomes its owner; owners change its name, description,
    languages and blind coding switch, archive and restore it, and delete it with its name as
    `confirm`."""

    lookup_field = "slug"
    lookup_value_regex = SLUG_REGEX
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    ordering_fields = ["name", "slug", "created_at"]
    ordering = ["name"]

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return StudySerializer if self.action == "list" else StudyDetailSerializer

    def get_queryset(self) -> QuerySet[Study]:
        if schema_only(self):
            return Study.objects.none()
        user = self.request.user
        role = Membership.objects.filter(study=OuterRef("pk"), user=user).values("role")[:1]
        studies = Study.objects.for_user(user).annotate(my_role=Subquery(role))
        if self.action == "list":
            # Archived studies leave the list, as on the page, unless asked for.
            archived = truthy(self.request.query_params.get("archived", ""))
            studies = studies.filter(archived_at__isnull=not archived)
        return studies

    def get_object(self) -> Study:
        study = super().get_object()
        # Checked before the body is validated, so a viewer learns "not allowed", not "invalid";
        # an archived study takes no change but its restoring or deletion.
        if self.request.method not in SAFE_METHODS:
            access = get_study_for_user(
                self.request.user,
                study.slug,
                min_role=OWNER,
                archived_ok=self.action in ("restore", "destroy"),
            ).access
            study.access = access
        return study

    def perform_create(self, serializer: StudySerializer) -> None:
        data = serializer.validated_data
        try:
            study = create_study(
                owner=self.request.user,
                name=data["name"],
                slug=data.get("slug", ""),
                description=data.get("description", ""),
                languages=data.get("languages", "en"),
            )
        except StudyError as exc:
            raise serializers.ValidationError({"detail": [str(exc)]}) from None
        if data.get("blind_coding"):
            update_study(study=study, blind_coding=True)
        study.my_role = OWNER
        serializer.instance = study

    def perform_update(self, serializer: StudySerializer) -> None:
        data = serializer.validated_data
        study = serializer.instance
        try:
            update_study(
                study=study,
                name=data.get("name"),
                description=data.get("description"),
                languages=data.get("languages"),
                blind_coding=data.get("blind_coding"),
            )
        except StudyError as exc:
            raise serializers.ValidationError({"detail": [str(exc)]}) from None

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "confirm", str, description="The study's name, exactly, to confirm the deletion"
            )
        ],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def destroy(self, request: Request, slug: str) -> Response:
        """Delete the study and everything in it. `confirm` (query or body) must be the
        study's name; the answer counts what was deleted."""
        study = self.get_object()
        confirmation = str(request.query_params.get("confirm") or request.data.get("confirm") or "")
        if confirmation.strip() != study.name:
            return Response(
                {
                    "confirm": [
                        f"Send the study's name as confirm (?confirm={study.name}) to delete "
                        f"it and everything in it: {deletion_summary(study).describe()}."
                    ]
                },
                status=status.HTTP_400_BAD_REQUEST,
            )
        summary = delete_study(study=study, confirmation=confirmation)
        return Response({"deleted": dict(summary.counts), "summary": summary.describe()})

    @extend_schema(request=None, responses={200: StudyDetailSerializer})
    @action(detail=True, methods=["post"])
    def archive(self, request: Request, slug: str) -> Response:
        """Make the study read-only and hide it from the list, until restored."""
        study = archive_study(study=self.get_object())
        return Response(StudyDetailSerializer(study, context=self.get_serializer_context()).data)

    @extend_schema(request=None, responses={200: StudyDetailSerializer})
    @action(detail=True, methods=["post"])
    def restore(self, request: Request, slug: str) -> Response:
        study = restore_study(study=self.get_object())
        return Response(StudyDetailSerializer(study, context=self.get_serializer_context()).data)


# --- The base of everything nested under a study --------------------------------------------


class StudyScopedViewSet(viewsets.GenericViewSet):
    """Resolves `self.study` from the URL's slug before any handler runs: readers need
    `read_role`, writers `write_role`."""

    read_role: str = VIEWER
    write_role: str = OWNER
    study: Study

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        needed = self.read_role if request.method in SAFE_METHODS else self.write_role
        self.study = get_study_for_user(request.user, kwargs["slug"], min_role=needed)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if hasattr(self, "study"):
            context["study"] = self.study
        return context


class StudyScopedResourceViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    StudyScopedViewSet,
):
    """A resource of a study that members read and may create, change and remove (PATCH, not
    PUT: a partial change is all the web UI ever makes)."""

    http_method_names = ["get", "post", "patch", "delete", "head", "options"]


# --- Workshops, participants, variables -----------------------------------------------------


class WorkshopSerializer(serializers.ModelSerializer):
    country = serializers.CharField(source="country.code", read_only=True)

    class Meta:
        model = Workshop
        fields = [
            "id",
            "code",
            "country",
            "site",
            "date",
            "language",
            "facilitators",
            "notes",
        ]


class WorkshopUpdateSerializer(serializers.Serializer):
    code = serializers.CharField(max_length=32, required=False)
    site = serializers.CharField(max_length=200, required=False, allow_blank=True)
    date = serializers.DateField(required=False, allow_null=True)
    country = serializers.CharField(required=False, help_text="ISO 3166 code, e.g. FI.")
    language = serializers.CharField(
        max_length=35, required=False, validators=[validate_language_tag]
    )


class WorkshopViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    StudyScopedViewSet,
):
    """The study's workshops; owners change a workshop's code, site, date, country and
    language with PATCH (through the same service as the web page)."""

    serializer_class = WorkshopSerializer
    http_method_names = ["get", "patch", "head", "options"]
    ordering_fields = ["code", "date", "country", "id"]
    ordering = ["code"]

    def get_queryset(self) -> QuerySet[Workshop]:
        if schema_only(self):
            return Workshop.objects.none()
        return Workshop.objects.filter(study=self.study)

    @extend_schema(request=WorkshopUpdateSerializer, responses={200: WorkshopSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        workshop = self.get_object()
        changes = WorkshopUpdateSerializer(data=request.data, partial=True)
        changes.is_valid(raise_exception=True)
        data = dict(changes.validated_data)
        if "country" in data:
            data["country"] = data["country"].strip().upper()
        try:
            update_workshop(workshop=workshop, **data)
        except StudyError as exc:
            raise serializers.ValidationError({"detail": [str(exc)]}) from None
        return Response(WorkshopSerializer(workshop).data)


class ParticipantSerializer(serializers.ModelSerializer):
    workshop = serializers.CharField(source="workshop.code", read_only=True)
    aliases = serializers.ListField(source="alias_list", child=serializers.CharField())
    values = serializers.SerializerMethodField()

    class Meta:
        model = Participant
        fields = ["id", "code", "workshop", "aliases", "values"]

    def get_values(self, participant: Participant) -> dict[str, str]:
        """{variable name: value}, for the variables this participant has a value of."""
        return {value.variable.name: value.value for value in participant.values.all()}


class ParticipantFilter(django_filters.FilterSet):
    workshop = django_filters.CharFilter(field_name="workshop__code")

    class Meta:
        model = Participant
        fields = ["workshop"]


class ParticipantViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, StudyScopedViewSet):
    serializer_class = ParticipantSerializer
    filterset_class = ParticipantFilter
    ordering_fields = ["code", "id"]
    ordering = ["code"]

    def get_queryset(self) -> QuerySet[Participant]:
        if schema_only(self):
            return Participant.objects.none()
        return (
            Participant.objects.filter(study=self.study)
            .select_related("workshop")
            .prefetch_related("values__variable")
        )


class WithdrawalSerializer(serializers.Serializer):
    confirm = serializers.CharField(help_text="The participant's code, exactly, to confirm")


class ParticipantWithdrawView(APIView):
    """A participant's withdrawal (owners only; irreversible, see docs/privacy.md). GET says
    what withdrawing would do; POST with the participant's code as `confirm` withdraws them
    and answers 200 with what was done, or 400 naming what is wrong (a wrong confirmation, a
    participant who withdrew already) having changed nothing."""

    def _participant(self, request: Request, slug: str, code: str) -> Participant:
        study = get_study_for_user(request.user, slug, min_role=OWNER)
        participant = study.participants.filter(code=code).select_related("study").first()
        if participant is None:
            raise NotFound(f"No participant {code} in this study.")
        return participant

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, slug: str, code: str) -> Response:
        return Response(withdrawal_preview(self._participant(request, slug, code)).as_json())

    @extend_schema(
        request=WithdrawalSerializer,
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, slug: str, code: str) -> Response:
        participant = self._participant(request, slug, code)
        confirmation = request.data.get("confirm") if isinstance(request.data, dict) else None
        try:
            summary = withdraw_participant(
                participant=participant, confirmation=str(confirmation or ""), user=request.user
            )
        except WithdrawalRefused as exc:
            return Response({exc.field or "detail": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(summary.as_json())


class VariableSerializer(serializers.ModelSerializer):
    choices = serializers.ListField(source="choice_list", child=serializers.CharField())

    class Meta:
        model = Variable
        fields = ["id", "name", "kind", "choices", "order"]


class VariableViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, StudyScopedViewSet):
    serializer_class = VariableSerializer
    ordering_fields = ["order", "name", "id"]
    ordering = ["order", "name"]

    def get_queryset(self) -> QuerySet[Variable]:
        if schema_only(self):
            return Variable.objects.none()
        return Variable.objects.filter(study=self.study)


# --- Documents ------------------------------------------------------------------------------


class DocumentSerializer(serializers.ModelSerializer):
    workshop = serializers.CharField(source="workshop.code", read_only=True, default=None)

    class Meta:
        model = Document
        fields = [
            "id",
            "title",
            "kind",
            "workshop",
            "language",
            "word_count",
            "text_length",
            "source_name",
            "source_format",
            "created_at",
        ]


class DocumentDetailSerializer(DocumentSerializer):
    """The text and, as compact rows, its turns [seq, speaker, participant code, start, end,
    start_ms, end_ms] and sentences [start, end]: code point offsets into `text`."""

    turns = serializers.SerializerMethodField()
    sentences = serializers.SerializerMethodField()

    class Meta(DocumentSerializer.Meta):
        fields = [*DocumentSerializer.Meta.fields, "text", "turns", "sentences"]

    def get_turns(self, document: Document) -> list[list[Any]]:
        return [
            list(row)
            for row in document.turns.order_by("seq").values_list(
                "seq", "speaker", "participant__code", "start", "end", "start_ms", "end_ms"
            )
        ]

    def get_sentences(self, document: Document) -> list[list[int]]:
        return [list(row) for row in document.sentences.order_by("seq").values_list("start", "end")]


class DocumentFilter(django_filters.FilterSet):
    workshop = django_filters.CharFilter(field_name="workshop__code")

    class Meta:
        model = Document
        fields = ["workshop", "kind", "language"]


class DocumentUpdateSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200, required=False)
    workshop = serializers.CharField(required=False, help_text="The code of a workshop.")


class DocumentViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    StudyScopedViewSet,
):
    """The study's documents. Owners rename one or move it to another workshop (PATCH
    `title`, `workshop`), and delete it: at once when nothing was added to it, and with
    `confirm=true` (query or body) when codings, memos or a recording would go with it;
    without it the answer is 400 and names them."""

    filterset_class = DocumentFilter
    http_method_names = ["get", "patch", "delete", "head", "options"]
    ordering_fields = ["title", "created_at", "word_count", "id"]
    ordering = ["title"]

    def get_serializer_class(self) -> type[serializers.Serializer]:
        return DocumentDetailSerializer if self.action == "retrieve" else DocumentSerializer

    def get_queryset(self) -> QuerySet[Document]:
        if schema_only(self):
            return Document.objects.none()
        documents = Document.objects.filter(study=self.study).select_related("workshop")
        # A list never carries the texts: they can be megabytes each.
        return documents if self.action == "retrieve" else documents.defer("text")

    @extend_schema(request=DocumentUpdateSerializer, responses={200: DocumentSerializer})
    def partial_update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        document = self.get_object()
        changes = DocumentUpdateSerializer(data=request.data, partial=True)
        changes.is_valid(raise_exception=True)
        data = changes.validated_data
        workshop = None
        if "workshop" in data:
            workshop = self.study.workshops.filter(code=data["workshop"].strip()).first()
            if workshop is None:
                raise serializers.ValidationError(
                    {"workshop": [f"No workshop {data['workshop']!r} in this study."]}
                )
        try:
            update_document(document=document, title=data.get("title"), workshop=workshop)
        except StudyError as exc:
            raise serializers.ValidationError({"detail": [str(exc)]}) from None
        return Response(DocumentSerializer(document).data)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "confirm", bool, description="Also delete the codings, memos and recording"
            )
        ],
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def destroy(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        document = self.get_object()
        confirm = truthy(request.query_params.get("confirm")) or truthy(request.data.get("confirm"))
        try:
            summary = delete_document(document=document, confirm=confirm)
        except StudyError as exc:
            return Response({"confirm": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response({"deleted": dict(summary.counts), "summary": summary.describe()})


# --- Members --------------------------------------------------------------------------------


class MembershipSerializer(serializers.ModelSerializer):
    username = serializers.CharField(source="user.username")

    class Meta:
        model = Membership
        fields = ["id", "username", "role"]

    def validate_username(self, value: str) -> Any:
        if self.instance is not None:
            raise serializers.ValidationError("A membership's user cannot change.")
        user = get_user_model().objects.filter(username=value.strip()).first()
        if user is None:
            raise serializers.ValidationError(f"There is no user called {value.strip()!r}.")
        if Membership.objects.filter(study=self.context["study"], user=user).exists():
            raise serializers.ValidationError(f"{value.strip()} is already a member of this study.")
        return user


class MembershipViewSet(StudyScopedResourceViewSet):
    """Members see who is in the study; owners add, change and remove members. A study keeps at
    least one owner."""

    serializer_class = MembershipSerializer
    filterset_fields = ["role"]
    ordering_fields = ["role", "user__username", "id"]
    ordering = ["role", "user__username"]

    def get_queryset(self) -> QuerySet[Membership]:
        if schema_only(self):
            return Membership.objects.none()
        return Membership.objects.filter(study=self.study).select_related("user")

    def perform_create(self, serializer: MembershipSerializer) -> None:
        user = serializer.validated_data["user"]["username"]
        try:
            with transaction.atomic():
                serializer.instance = Membership.add(
                    study=self.study, user=user, role=serializer.validated_data.get("role", VIEWER)
                )
        except IntegrityError:
            raise serializers.ValidationError(
                {"username": [f"{user.get_username()} is already a member of this study."]}
            ) from None

    def perform_update(self, serializer: MembershipSerializer) -> None:
        role = serializer.validated_data.get("role")
        if role is not None:
            try:
                serializer.instance.change_role(role)
            except LastOwnerError as refused:
                raise serializers.ValidationError({"role": [refused.message]}) from None

    def perform_destroy(self, instance: Membership) -> None:
        try:
            instance.remove()
        except LastOwnerError as refused:
            raise serializers.ValidationError({"role": [refused.message]}) from None


class MemberInvitationSerializer(serializers.ModelSerializer):
    invitee = serializers.CharField(
        write_only=True, max_length=254, help_text="An e-mail address or an existing username."
    )
    email = serializers.EmailField(read_only=True)
    username = serializers.CharField(source="user.username", read_only=True, default=None)
    invited_by = serializers.CharField(source="invited_by.username", read_only=True, default=None)
    expires_at = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()

    class Meta:
        model = MemberInvitation
        fields = [
            "id",
            "invitee",
            "email",
            "username",
            "role",
            "invited_by",
            "created_at",
            "expires_at",
            "status",
        ]

    def get_expires_at(self, invitation: MemberInvitation) -> str:
        return serializers.DateTimeField().to_representation(invitations.expires_at(invitation))

    def get_status(self, invitation: MemberInvitation) -> str:
        """open, accepted, revoked (or replaced by a newer one), expired."""
        problem = invitations.problem_with(invitation)
        return {
            None: "open",
            invitations.Problem.USED: "accepted",
            invitations.Problem.REVOKED: "revoked",
            invitations.Problem.REPLACED: "revoked",
            invitations.Problem.EXPIRED: "expired",
        }[problem]

    def validate_invitee(self, value: str) -> dict[str, object]:
        try:
            who = invitations.resolve_invitee(value)
        except DjangoValidationError as refused:
            raise serializers.ValidationError(refused.messages) from None
        problem = invitations.invitee_problem(self.context["study"], **who)
        if problem:
            raise serializers.ValidationError(problem)
        return who


class MemberInvitationViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.DestroyModelMixin,
    StudyScopedViewSet,
):
    """Owners invite people by e-mail address or username (POST sends the e-mail with the
    signed link), list the invitations, revoke one (DELETE) or send it again."""

    serializer_class = MemberInvitationSerializer
    read_role = OWNER
    write_role = OWNER
    filterset_fields = ["role"]
    ordering_fields = ["created_at", "id"]
    ordering = ["-created_at", "-id"]

    def get_queryset(self) -> QuerySet[MemberInvitation]:
        if schema_only(self):
            return MemberInvitation.objects.none()
        return MemberInvitation.objects.filter(study=self.study).select_related(
            "user", "invited_by"
        )

    def perform_create(self, serializer: MemberInvitationSerializer) -> None:
        data = serializer.validated_data
        serializer.instance = invitations.invite(
            study=self.study, invited_by=self.request.user, role=data["role"], **data["invitee"]
        )
        invitations.send(serializer.instance, request=self.request)

    def perform_destroy(self, instance: MemberInvitation) -> None:
        """Revoking keeps the row (who was invited, when): its link stops working."""
        invitations.revoke(instance)

    @extend_schema(request=None, responses={201: MemberInvitationSerializer})
    @action(detail=True, methods=["post"])
    def resend(self, request: Request, slug: str, pk: str) -> Response:
        """Replace an open or expired invitation with a fresh one and e-mail its link."""
        invitation = self.get_object()
        if invitation.accepted_at is not None or invitation.revoked_at is not None:
            raise serializers.ValidationError(
                {"detail": ["Only an open or expired invitation can be sent again."]}
            )
        fresh = invitations.send_again(invitation, by=request.user)
        invitations.send(fresh, request=request)
        data = self.get_serializer(fresh).data
        return Response(data, status=status.HTTP_201_CREATED)


# --- Imports --------------------------------------------------------------------------------


def rejected(exc: FileRejected) -> Response:
    return Response({"file": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)


def uploaded(request: Request, name: str) -> list[tuple[str, bytes]]:
    return [(upload.name, upload.read()) for upload in request.FILES.getlist(name)]


class RosterUploadSerializer(serializers.Serializer):
    file = serializers.FileField()
    confirm = serializers.BooleanField(required=False)
    language = serializers.CharField(
        required=False,
        help_text="BCP 47 tag of the new workshops the roster gives no language for; "
        "required to confirm when there are any (see workshops_need_language).",
    )


class TranscriptUploadSerializer(serializers.Serializer):
    workshop = serializers.CharField()
    files = serializers.ListField(child=serializers.FileField())
    language = serializers.CharField(required=False)
    mapping = serializers.CharField(required=False, help_text="JSON: {speaker label: code}")
    confirm = serializers.BooleanField(required=False)
    pseudonymise = serializers.BooleanField(
        required=False,
        help_text="Replace personal data (roster names, the private list, e-mail addresses, "
        "phone numbers, web addresses) as suggested before storing; see docs/privacy.md.",
    )


class RosterImportView(APIView):
    """POST a roster (.csv/.xlsx) as `file`: the plan, writing nothing; with `confirm=1` (query
    or form field) the plan is applied. Owners only."""

    parser_classes = [MultiPartParser]

    @extend_schema(request=RosterUploadSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, slug: str) -> Response:
        study = get_study_for_user(request.user, slug, min_role=OWNER)
        files = uploaded(request, "file")
        if len(files) != 1:
            return Response(
                {"file": ["Upload one roster file (.csv or .xlsx) as 'file'."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        [(filename, data)] = files
        confirm = truthy(request.query_params.get("confirm")) or truthy(request.data.get("confirm"))
        language = str(request.data.get("language", "")).strip() or None
        if language:
            try:
                validate_language_tag(language)
            except DjangoValidationError as exc:
                return Response({"language": exc.messages}, status=status.HTTP_400_BAD_REQUEST)
        try:
            plan = plan_roster(study=study, filename=filename, data=data)
        except FileRejected as exc:
            return rejected(exc)
        if confirm:
            try:
                apply_roster(study=study, plan=plan, language=language)
            except LanguageNeeded as exc:
                return Response(
                    {"language": [str(exc)], "workshops_need_language": exc.workshops},
                    status=status.HTTP_400_BAD_REQUEST,
                )
        return Response(
            {
                "applied": confirm and plan.has_changes,
                "summary": plan.summary(),
                "rows": plan.rows,
                "workshops_new": plan.workshops_new,
                "workshops_changed": plan.workshops_changed,
                "participants_new": plan.participants_new,
                "participants_changed": plan.participants_changed,
                "participants_unchanged": plan.participants_unchanged,
                "variables_new": [{"name": n, "kind": k} for n, k in plan.variables_new],
                "workshops_need_language": plan.workshops_need_language,
            }
        )


class TranscriptImportView(APIView):
    """POST transcripts as `files` (one or more) with `workshop` (its code), optional
    `language` and `mapping` (JSON: {speaker label: participant code, or "" for a
    non-participant}): a preview per file, writing nothing; with `confirm=1` they are imported
    all together or not at all. Owners only."""

    parser_classes = [MultiPartParser]

    @extend_schema(
        request=TranscriptUploadSerializer,
        responses={200: OpenApiTypes.OBJECT, 202: ACCEPTED, 400: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, slug: str) -> Response:
        study = get_study_for_user(request.user, slug, min_role=OWNER)
        errors: dict[str, list[str]] = {}
        code = str(request.data.get("workshop", "")).strip()
        workshop = study.workshops.filter(code=code).first() if code else None
        if workshop is None:
            errors["workshop"] = [
                f"No workshop {code!r} in this study." if code else "Name the workshop's code."
            ]
        files = uploaded(request, "files") + uploaded(request, "file")
        if not files:
            errors["files"] = ["Upload one or more transcripts as 'files'."]
        language = str(request.data.get("language", "")).strip() or None
        if language:
            try:
                validate_language_tag(language)
            except DjangoValidationError as exc:
                errors["language"] = list(exc.messages)
        mapping: dict[str, str] | None = None
        raw_mapping = request.data.get("mapping")
        if raw_mapping:
            try:
                mapping = json.loads(raw_mapping)
            except ValueError:
                mapping = None
            if not isinstance(mapping, dict) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
            ):
                errors["mapping"] = [
                    'A JSON object of speaker label to participant code ("" for a '
                    'non-participant), e.g. {"Anna": "P01", "Note taker": ""}.'
                ]
        if errors:
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        confirm = truthy(request.query_params.get("confirm")) or truthy(request.data.get("confirm"))
        pseudonymise = truthy(request.query_params.get("pseudonymise")) or truthy(
            request.data.get("pseudonymise")
        )
        try:
            if confirm:
                return self.confirm(
                    request, study, workshop, files, mapping, language, pseudonymise
                )
            previews = [
                preview_transcript(
                    study=study,
                    workshop=workshop,
                    filename=name,
                    data=data,
                    mapping=mapping,
                    pseudonymise=pseudonymise,
                    language=language,
                )
                for name, data in files
            ]
        except FileRejected as exc:
            return rejected(exc)
        except ValueError as exc:  # a mapping to an unknown participant
            return Response({"mapping": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            {
                "applied": False,
                "workshop": workshop.code,
                "language": language or workshop.language,
                "files": [
                    {
                        "filename": p.filename,
                        "title": p.title,
                        "status": p.status,
                        "reason": p.reason,
                        "format": p.parsed.format,
                        "turns": len(p.parsed.turns),
                        "words": p.word_count,
                        "speakers": [
                            {
                                "label": s.label,
                                "turns": s.turns,
                                "words": s.words,
                                "match": s.match.how,
                                "participant": s.match.participant.code
                                if s.match.participant
                                else None,
                            }
                            for s in p.speakers
                        ],
                        "unmatched": p.unmatched,
                        **({"pseudonymised": found(p.pseudonymised)} if pseudonymise else {}),
                    }
                    for p in previews
                ],
            }
        )

    def confirm(
        self,
        request: Request,
        study: Study,
        workshop: Workshop,
        files: list[tuple[str, bytes]],
        mapping: dict[str, str] | None,
        language: str | None,
        pseudonymise: bool,
    ) -> Response:
        """Import through the same job as the Import page: the files wait as PendingImport
        rows (any worker reads the same bytes), then the job imports them all or none."""
        # A mapping to an unknown participant is the request's fault: refused before any job.
        match_speakers(study, workshop, (mapping or {}).keys(), mapping)
        batch = uuid.uuid4()
        PendingImport.objects.bulk_create(
            PendingImport(
                study=study,
                user=request.user,
                batch=batch,
                kind=PendingImport.Kind.TRANSCRIPT,
                workshop=workshop,
                language=language or "",
                filename=name,
                data=data,
            )
            for name, data in files
        )
        job = start_transcript_import(
            study=study,
            user=request.user,
            batch=batch,
            mapping=mapping,
            language=language,
            pseudonymise=pseudonymise,
            discard_on_failure=True,
        )
        if runs_in_background():
            return job_accepted(request, job)
        if job.status == Job.Status.FAILED:
            # Nobody comes back to an upload the API refused: its bytes go (whatever failed).
            PendingImport.objects.filter(batch=batch).delete()
            return Response(job.data or {"detail": job.error}, status=status.HTTP_400_BAD_REQUEST)
        return Response(job.data)


def found(result: Pseudonymised) -> dict[str, object]:
    """What pseudonymisation found in a previewed file and what it would replace, with
    offsets into the text as uploaded."""
    applied = {f.key: f.replacement for f in result.applied}
    return {
        "report": result.report(),
        "findings": [
            {
                "start": f.start,
                "end": f.end,
                "text": f.text,
                "kind": f.kind,
                "replacement": applied.get(f.key, f.replacement),
                "replaced": f.key in applied,
                "speaker_label": f.label,
            }
            for f in result.findings
        ],
    }


class PrivateNamesSerializer(serializers.Serializer):
    names = serializers.ListField(child=serializers.CharField(allow_blank=True))
    kind = serializers.ChoiceField(choices=PrivateName.Kind.choices, default=PrivateName.Kind.NAME)


class PrivateNamesView(APIView):
    """The study's private list of names for pseudonymisation (owners only). GET gives how
    many names of each kind it holds (the names themselves are never given back: only their
    keyed hashes are kept); POST `{"names": [...], "kind": "name"|"place"|"organisation"}`
    adds names and answers with what changed, or 400 naming the line at fault, adding none."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, slug: str) -> Response:
        study = get_study_for_user(request.user, slug, min_role=OWNER, archived_ok=True)
        counts = private_name_counts(study)
        return Response({"counts": counts, "total": sum(counts.values())})

    @extend_schema(
        request=PrivateNamesSerializer,
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request, slug: str) -> Response:
        study = get_study_for_user(request.user, slug, min_role=OWNER)
        serializer = PrivateNamesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            change = add_private_names(
                study=study,
                names=serializer.validated_data["names"],
                kind=serializer.validated_data["kind"],
                user=request.user,
                filename="names",
            )
        except FileRejected as exc:
            return Response({"names": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        counts = private_name_counts(study)
        return Response(
            {
                "added": change.added,
                "already": change.already,
                "summary": change.summary(),
                "counts": counts,
                "total": sum(counts.values()),
            }
        )


# --- Recordings -----------------------------------------------------------------------------


class RecordingSerializer(serializers.ModelSerializer):
    uploaded_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Recording
        fields = ["original_name", "content_type", "size", "uploaded_by", "created_at"]


class RecordingUploadSerializer(serializers.Serializer):
    file = serializers.FileField(help_text=f"The audio or video file: {EXTENSIONS}.")


class RecordingView(APIView):
    """A transcript's recording. GET gives its bytes to members, honouring `Range: bytes=a-b`,
    `a-` and `-n` (206 with Content-Range; 416 for a range outside the file), so players can
    seek; PUT a multipart `file` attaches or replaces it (201, or 200 when replacing) and DELETE
    removes it: owners only. The type is checked from the file's content."""

    parser_classes = [MultiPartParser]

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        # A player asks for audio/* or video/*, which no JSON renderer offers; GET answers with
        # the file whatever the Accept header, and errors stay JSON.
        return super().perform_content_negotiation(request, force=True)

    def _document(self, request: Request, slug: str, document_id: int, role: str) -> Document:
        return get_document_for_user(request.user, slug, document_id, min_role=role)

    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            (206, "application/octet-stream"): OpenApiTypes.BINARY,
        }
    )
    def get(self, request: Request, slug: str, document_id: int) -> Any:
        recording = recording_of(self._document(request, slug, document_id, VIEWER))
        if recording is None:
            raise NotFound("This document has no recording.")
        return recording_response(request, recording)

    @extend_schema(
        request={"multipart/form-data": RecordingUploadSerializer},
        responses={200: RecordingSerializer, 201: RecordingSerializer},
    )
    def put(self, request: Request, slug: str, document_id: int) -> Response:
        document = self._document(request, slug, document_id, OWNER)
        files = request.FILES.getlist("file")
        if len(files) != 1:
            return Response(
                {"file": [f"Upload one audio or video file ({EXTENSIONS}) as 'file'."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        replacing = recording_of(document) is not None
        try:
            recording = attach_recording(document=document, upload=files[0], user=request.user)
        except RecordingRejected as exc:
            return Response({"file": [str(exc)]}, status=status.HTTP_400_BAD_REQUEST)
        return Response(
            RecordingSerializer(recording).data,
            status=status.HTTP_200_OK if replacing else status.HTTP_201_CREATED,
        )

    @extend_schema(responses={204: None})
    def delete(self, request: Request, slug: str, document_id: int) -> Response:
        document = self._document(request, slug, document_id, OWNER)
        if remove_recording(document=document) is None:
            raise NotFound("This document has no recording.")
        return Response(status=status.HTTP_204_NO_CONTENT)

"""The machine coders through the API: their metrics, training the learned engine, asking an
engine for suggestions and steering it. The same operations as the Machine coding page
(`coding.machine.actions`); a `MachineError` is a 400 with its message. Training and
suggesting run as jobs (`coding.jobs`): with a worker configured they answer 202 with the job
and a Location to poll."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from coding.api import ID_MAX
from coding.jobs import start_suggestions, start_training
from coding.machine import MachineError, actions, current_machine_coders, steer
from coding.models import Code, MachineCoder
from studies.access import CODER, OWNER, get_study_for_user
from studies.api_jobs import ACCEPTED, job_accepted
from studies.jobs import runs_in_background
from studies.models import Document, Job


def refused(field: str, error: MachineError) -> Response:
    return Response({field: [str(error)]}, status=status.HTTP_400_BAD_REQUEST)


def job_answer(request: Request, job: Job, done_status: int) -> Response:
    """A job's answer: 202 while it waits for a worker; else, as before jobs, its outcome
    (`done_status`) or its refusal (400, `{field: [message]}`)."""
    if runs_in_background():
        return job_accepted(request, job)
    if job.status == Job.Status.FAILED:
        return Response(job.data or {"detail": job.error}, status=status.HTTP_400_BAD_REQUEST)
    return Response(job.data, status=done_status)


class MachineListView(APIView):
    """GET: the study's machine coders, every version, with their metrics per code; `current`
    tells which offer suggestions. Members may read it; while blind coding is on, coders may
    not (the figures describe people's codings)."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, slug: str) -> Response:
        study = get_study_for_user(request.user, slug)
        if not study.access.sees_others:
            return Response(
                {"detail": "While blind coding is on, coders do not see agreement figures."},
                status=status.HTTP_403_FORBIDDEN,
            )
        current = {m.pk for m in current_machine_coders(study)}
        machines = MachineCoder.objects.filter(study=study).select_related("user")
        return Response(
            {
                "llm_suggestions": study.llm_suggestions,
                "machines": [
                    {**actions.machine_json(m), "current": m.pk in current}
                    for m in machines.order_by("engine", "model_name", "-version")
                ],
            }
        )


class TrainSerializer(serializers.Serializer):
    layer = serializers.CharField(max_length=150, help_text="consensus or a person's username")


class MachineTrainView(APIView):
    """POST {"layer": "consensus"|USERNAME}: a new version of the learned engine (owners)."""

    @extend_schema(request=TrainSerializer, responses={201: OpenApiTypes.OBJECT, 202: ACCEPTED})
    def post(self, request: Request, slug: str) -> Response:
        study = get_study_for_user(request.user, slug, min_role=OWNER)
        body = TrainSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        asked = body.validated_data["layer"]
        try:
            actions.parse_layer(study, asked)
        except MachineError as error:
            return refused("layer", error)
        job = start_training(study=study, user=request.user, layer=asked)
        return job_answer(request, job, status.HTTP_201_CREATED)


class SuggestSerializer(serializers.Serializer):
    engine = serializers.ChoiceField(choices=actions.ENGINES)
    documents = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=ID_MAX), min_length=1, max_length=1000
    )


class MachineSuggestView(APIView):
    """POST {"engine": "learned"|"llm", "documents": [ids]}: the engine's suggestions in those
    documents, replacing its earlier ones there; answers with the counts (owners)."""

    @extend_schema(request=SuggestSerializer, responses={200: OpenApiTypes.OBJECT, 202: ACCEPTED})
    def post(self, request: Request, slug: str) -> Response:
        study = get_study_for_user(request.user, slug, min_role=OWNER)
        body = SuggestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            documents = actions.documents_of(study, body.validated_data["documents"])
        except MachineError as error:
            return refused("documents", error)
        job = start_suggestions(
            study=study,
            user=request.user,
            engine=body.validated_data["engine"],
            documents=documents,
        )
        return job_answer(request, job, status.HTTP_200_OK)


class SteerSerializer(serializers.Serializer):
    document = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    code = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    start = serializers.IntegerField(min_value=0, max_value=ID_MAX)
    end = serializers.IntegerField(min_value=1, max_value=ID_MAX)
    positive = serializers.BooleanField()


class MachineSteerView(APIView):
    """POST {"document", "code", "start", "end", "positive"}: "more like this" (true) or "not
    this" (false) for the learned engine's next training (coders and owners)."""

    @extend_schema(request=SteerSerializer, responses={201: OpenApiTypes.OBJECT})
    def post(self, request: Request, slug: str) -> Response:
        study = get_study_for_user(request.user, slug, min_role=CODER)
        body = SteerSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        document = Document.objects.filter(study=study, pk=data["document"]).first()
        if document is None:
            return Response(
                {"document": ["No such document in this study."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        if not Code.objects.filter(study=study, pk=data["code"]).exists():
            return Response(
                {"code": ["No such code in this study."]}, status=status.HTTP_400_BAD_REQUEST
            )
        length = len(document.text)
        if not data["start"] < data["end"] <= length:
            return Response(
                {"end": [f"The span must satisfy start < end <= {length}, the text's length."]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        example = steer(
            user=request.user,
            document=document,
            code_id=data["code"],
            start=data["start"],
            end=data["end"],
            positive=data["positive"],
        )
        return Response(
            {
                "id": example.pk,
                "document": document.pk,
                "code": example.code_id,
                "start": example.start,
                "end": example.end,
                "positive": example.positive,
            },
            status=status.HTTP_201_CREATED,
        )

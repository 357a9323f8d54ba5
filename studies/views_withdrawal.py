"""A participant's withdrawal on the web: an owner opens it from the participant's page, reads
what will happen (`studies.withdrawal.withdrawal_preview`), types the participant's code and
confirms; `withdraw_participant` does the rest."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from studies.access import OWNER, get_study_for_user
from studies.withdrawal import WithdrawalRefused, withdraw_participant, withdrawal_preview


class WithdrawalForm(forms.Form):
    code = forms.CharField(
        max_length=32,
        label="Type the participant's code to confirm",
        widget=forms.TextInput(attrs={"autocomplete": "off", "spellcheck": "false"}),
    )


@login_required
@require_http_methods(["GET", "POST"])
def participant_withdraw(request: HttpRequest, slug: str, participant_id: int) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    participant = study.participants.filter(pk=participant_id).select_related("workshop").first()
    if participant is None:
        raise Http404("No such participant in this study.")
    if participant.withdrawn_at is not None:
        messages.info(
            request, f"{participant.code} withdrew on {participant.withdrawn_at:%Y-%m-%d}."
        )
        return redirect("studies:participant", slug=study.slug, participant_id=participant.pk)
    form = WithdrawalForm(request.POST or None)
    status = 200
    if request.method == "POST":
        status = 400
        if form.is_valid():
            try:
                summary = withdraw_participant(
                    participant=participant,
                    confirmation=form.cleaned_data["code"],
                    user=request.user,
                )
            except WithdrawalRefused as exc:
                form.add_error("code", str(exc))
            else:
                messages.success(request, summary.describe())
                return redirect(
                    "studies:participant", slug=study.slug, participant_id=participant.pk
                )
    return render(
        request,
        "studies/participant_withdraw.html",
        {
            "study": study,
            "participant": participant,
            "preview": withdrawal_preview(participant),
            "form": form,
        },
        status=status,
    )

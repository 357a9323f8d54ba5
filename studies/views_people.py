"""People: inviting members by a signed link, accepting an invitation (with or without an
account), signing up, and the login page that says what is on offer.

The members page itself is `studies.views.member_list`; it renders through `member_page` here
so that a refused invitation shows its errors on that same page.
"""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from studies import invitations
from studies.access import OWNER, get_study_for_user
from studies.forms import MemberForm
from studies.models import MemberInvitation, Membership, Study

# --- Forms ----------------------------------------------------------------------------------


class InvitationForm(forms.Form):
    invitee = forms.CharField(
        max_length=254,
        label="E-mail address or username",
        help_text="Someone without an account gets a link that lets them create one.",
    )
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.CODER)

    def __init__(self, *args: object, study: Study, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.study = study

    def clean_invitee(self) -> dict[str, object]:
        who = invitations.resolve_invitee(self.cleaned_data["invitee"])
        problem = invitations.invitee_problem(self.study, **who)
        if problem:
            raise ValidationError(problem)
        return who


class SignupForm(UserCreationForm):
    """Username, e-mail and the password twice, checked by AUTH_PASSWORD_VALIDATORS."""

    email = forms.EmailField(
        label="E-mail address", help_text="For password resets and invitations."
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise ValidationError(
                "An account with this e-mail address exists already: log in, or reset its "
                "password from the login page."
            )
        return email


# --- The members page -----------------------------------------------------------------------


def member_page(
    request: HttpRequest,
    study: Study,
    *,
    add_form: MemberForm | None = None,
    invite_form: InvitationForm | None = None,
    status: int = 200,
) -> HttpResponse:
    context = {
        "study": study,
        "members": study.memberships.select_related("user").order_by("role", "user__username"),
        "form": add_form or MemberForm(study=study),
        "roles": Membership.Role.choices,
    }
    if study.access.is_owner:
        pending = study.invitations.filter(accepted_at__isnull=True, revoked_at__isnull=True)
        context["invitations"] = [
            (invitation, invitations.expires_at(invitation), invitations.is_expired(invitation))
            for invitation in pending.select_related("user", "invited_by")
        ]
        context["invite_form"] = invite_form or InvitationForm(study=study)
        context["invitation_days"] = settings.COLLOQUY_INVITATION_DAYS
    return render(request, "studies/member_list.html", context, status=status)


def _sent(request: HttpRequest, invitation: MemberInvitation, *, again: bool = False) -> None:
    verb = "sent again" if again else "sent"
    if invitations.send(invitation, request=request):
        address = invitations.address_of(invitation)
        messages.success(
            request,
            f"Invitation for {invitation.invitee} as {invitation.role} {verb} to {address}.",
        )
    else:
        messages.success(
            request,
            f"Invitation for {invitation.invitee} as {invitation.role} {verb}. Their account "
            "has no e-mail address: they find it on their list of studies.",
        )


@login_required
@require_POST
def invite(request: HttpRequest, slug: str) -> HttpResponse:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    form = InvitationForm(request.POST, study=study)
    if not form.is_valid():
        return member_page(request, study, invite_form=form, status=400)
    invitation = invitations.invite(
        study=study,
        invited_by=request.user,
        role=form.cleaned_data["role"],
        **form.cleaned_data["invitee"],
    )
    _sent(request, invitation)
    return redirect("studies:members", slug=study.slug)


def _study_invitation(request: HttpRequest, slug: str, invitation_id: int) -> MemberInvitation:
    study = get_study_for_user(request.user, slug, min_role=OWNER)
    invitation = study.invitations.filter(pk=invitation_id).select_related("user").first()
    if invitation is None or not invitation.is_open:
        raise Http404("No such open invitation in this study.")
    invitation.study = study
    return invitation


@login_required
@require_POST
def revoke_invitation(request: HttpRequest, slug: str, invitation_id: int) -> HttpResponse:
    invitation = _study_invitation(request, slug, invitation_id)
    invitations.revoke(invitation)
    messages.success(
        request, f"Revoked the invitation for {invitation.invitee}: its link no longer works."
    )
    return redirect("studies:members", slug=slug)


@login_required
@require_POST
def resend_invitation(request: HttpRequest, slug: str, invitation_id: int) -> HttpResponse:
    invitation = _study_invitation(request, slug, invitation_id)
    fresh = invitations.send_again(invitation, by=request.user)
    _sent(request, fresh, again=True)
    return redirect("studies:members", slug=slug)


# --- Opening an invitation link -------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def invitation(request: HttpRequest, token: str) -> HttpResponse:
    """Public by design: the signed link is the credential. Without a valid one the page says
    only what is wrong with the link, never which study it was for."""
    opened = invitations.open_link(token)
    if not opened.ok:
        return _problem(request, opened)
    invite = opened.invitation
    user = request.user
    if user.is_authenticated and invite.user_id and invite.user_id != user.pk:
        return _problem(request, invitations.Opened(invite, invitations.Problem.SOMEONE_ELSE))

    signup_form = None
    if not user.is_authenticated and not invite.user_id:
        signup_form = SignupForm(initial={"email": invite.email})
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "signup" and signup_form is not None:
            signup_form = SignupForm(request.POST)
            if signup_form.is_valid():
                user = signup_form.save()
                login(request, user, backend="django.contrib.auth.backends.ModelBackend")
                return _accept(request, invite, user)
        elif action == "accept" and user.is_authenticated:
            return _accept(request, invite, user)
    context = {
        "invitation": invite,
        "expires_at": invitations.expires_at(invite),
        "signup_form": signup_form,
        "consequence": (
            invitations.what_accepting_does(invite, user) if user.is_authenticated else None
        ),
    }
    status = 400 if signup_form is not None and signup_form.errors else 200
    return render(request, "studies/invitation.html", context, status=status)


def _accept(request: HttpRequest, invite: MemberInvitation, user: object) -> HttpResponse:
    try:
        outcome = invitations.accept(invite, user)
    except ValidationError:
        invite.refresh_from_db()
        return _problem(request, invitations.Opened(invite, invitations.problem_with(invite)))
    messages.success(request, outcome)
    return redirect(invite.study.get_absolute_url())


def _problem(request: HttpRequest, opened: invitations.Opened) -> HttpResponse:
    problem = opened.problem or invitations.Problem.TAMPERED
    # The study's name only for a genuine link, and only to say whom to ask.
    study = opened.invitation.study if opened.invitation is not None else None
    status = 404 if problem is invitations.Problem.TAMPERED else 410
    if problem is invitations.Problem.SOMEONE_ELSE:
        status = 403
    return render(
        request,
        "studies/invitation_problem.html",
        {"problem": problem, "kind": problem.name, "invited_study": study},
        status=status,
    )


# --- Signing up and logging in --------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("studies:list")
    if not settings.COLLOQUY_SIGNUP:
        return render(request, "registration/signup.html", {"signup_open": False})
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(
            request,
            f"Welcome, {user.get_username()}: your account is ready. A study's owner can now "
            "invite you by your username.",
        )
        return redirect("studies:list")
    return render(
        request,
        "registration/signup.html",
        {"signup_open": True, "form": form},
        status=400 if form.errors else 200,
    )


class LoginView(auth_views.LoginView):
    """Django's login, offering sign-up only while it is switched on."""

    def get_context_data(self, **kwargs: object) -> dict:
        context = super().get_context_data(**kwargs)
        context["signup_open"] = settings.COLLOQUY_SIGNUP
        return context

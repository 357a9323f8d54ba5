from __future__ import annotations

from django import forms
from django.conf import settings
from django.contrib.auth import get_user_model

from studies.importers import SUPPORTED_TRANSCRIPT_EXTENSIONS
from studies.models import Membership, Participant, Study, Workshop, validate_language_tag
from studies.services import NON_PARTICIPANT


class MemberForm(forms.Form):
    username = forms.CharField(max_length=150, help_text="An existing user's username.")
    role = forms.ChoiceField(choices=Membership.Role.choices, initial=Membership.Role.CODER)

    def __init__(self, *args: object, study: Study, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.study = study

    def clean_username(self) -> object:
        username = self.cleaned_data["username"].strip()
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise forms.ValidationError(f"There is no user called {username!r}.")
        if self.study.memberships.filter(user=user).exists():
            raise forms.ValidationError(f"{username} is already a member of this study.")
        return user

    def save(self) -> Membership:
        return Membership.objects.create(
            study=self.study, user=self.cleaned_data["username"], role=self.cleaned_data["role"]
        )


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    widget = MultipleFileInput

    def clean(self, data: object, initial: object = None) -> list:
        single = super().clean
        if isinstance(data, list | tuple):
            return [single(item, initial) for item in data]
        return [single(data, initial)]


def _read_upload(upload: object) -> bytes:
    limit = settings.COLLOQUY_MAX_UPLOAD_BYTES
    if upload.size > limit:
        raise forms.ValidationError(
            f"{upload.name} is {upload.size / 1048576:.1f} MB; the limit is "
            f"{limit / 1048576:.0f} MB."
        )
    return upload.read()


class TranscriptUploadForm(forms.Form):
    workshop = forms.ModelChoiceField(queryset=Workshop.objects.none(), empty_label=None)
    files = MultipleFileField(
        label="Transcript files",
        help_text="One or more of " + ", ".join(SUPPORTED_TRANSCRIPT_EXTENSIONS) + ".",
    )
    language = forms.CharField(
        required=False,
        max_length=35,
        validators=[validate_language_tag],
        help_text="BCP 47 tag such as 'de' or 'en-GB'; empty means the workshop's language.",
    )

    def __init__(self, *args: object, study: Study, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["workshop"].queryset = study.workshops.all()
        self.fields["files"].widget.attrs["accept"] = ",".join(SUPPORTED_TRANSCRIPT_EXTENSIONS)

    def clean_files(self) -> list[tuple[str, bytes]]:
        return [(upload.name, _read_upload(upload)) for upload in self.cleaned_data["files"]]


class RosterUploadForm(forms.Form):
    file = forms.FileField(
        label="Roster file",
        help_text="A .csv or .xlsx with one row per participant: columns participant and "
        "workshop (required), country, site, date, language, facilitators, aliases, and any "
        "participant variables (age band, gender, ...).",
    )

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["file"].widget.attrs["accept"] = ".csv,.xlsx"

    def clean_file(self) -> tuple[str, bytes]:
        upload = self.cleaned_data["file"]
        return upload.name, _read_upload(upload)


class SpeakerMappingForm(forms.Form):
    """One choice per unmatched speaker label: a participant, or "not a participant"."""

    def __init__(self, *args: object, labels: list[str], study: Study, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "Choose…"), ("-", "Not a participant (facilitator, guest, ...)")]
        choices += [
            (p.code, f"{p.code} ({p.workshop.code}{', ' + p.aliases if p.aliases else ''})")
            for p in Participant.objects.filter(study=study).select_related("workshop")
        ]
        self.labels = labels
        for index, label in enumerate(labels):
            self.fields[f"speaker_{index}"] = forms.ChoiceField(
                label=f"Speaker “{label}”", choices=choices
            )

    def mapping(self) -> dict[str, str]:
        result = {}
        for index, label in enumerate(self.labels):
            value = self.cleaned_data[f"speaker_{index}"]
            result[label] = NON_PARTICIPANT if value == "-" else value
        return result

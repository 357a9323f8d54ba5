from __future__ import annotations

from django import forms
from django.conf import settings
from django.conf.locale import LANG_INFO
from django.contrib.auth import get_user_model

from studies.importers import SUPPORTED_TRANSCRIPT_EXTENSIONS
from studies.models import (
    Document,
    Membership,
    Participant,
    Study,
    Variable,
    Workshop,
    language_list,
    validate_language_tag,
)
from studies.services import (
    NON_PARTICIPANT,
    RESERVED_SLUGS,
    StudyError,
    clean_variable_value,
)


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
        return Membership.add(
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
    """One choice per unmatched speaker label: a participant, or "not a participant". The
    transcript's workshop comes first, since its speakers are almost always its participants;
    the study's other participants follow, grouped by workshop, for the odd guest."""

    def __init__(
        self,
        *args: object,
        labels: list[str],
        study: Study,
        workshop: Workshop | None = None,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)
        groups: dict[int | None, list[tuple[str, str]]] = {}
        names: dict[int | None, str] = {}
        people = (
            Participant.objects.current()
            .filter(study=study)
            .select_related("workshop")
            .order_by("workshop__code", "code")
        )
        for p in people:
            key = p.workshop_id
            names[key] = p.workshop.code if p.workshop else "No workshop"
            groups.setdefault(key, []).append(
                (p.code, f"{p.code}{' (' + p.aliases + ')' if p.aliases else ''}")
            )
        choices: list = [("", "Choose…"), ("-", "Not a participant (facilitator, guest, ...)")]
        own = workshop.pk if workshop else None
        if own in groups:
            choices.append((f"{names[own]} (this workshop)", groups.pop(own)))
        choices += [(f"{names[key]} (another workshop)", group) for key, group in groups.items()]
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


# --- Running a study ------------------------------------------------------------------------


def language_name(tag: str) -> str:
    """'fi' -> 'Finnish (fi)'; a tag Django does not name is shown as itself."""
    info = LANG_INFO.get(tag.lower()) or LANG_INFO.get(tag.split("-")[0].lower()) or {}
    name = info.get("name")
    return f"{name} ({tag})" if name else tag


def language_choices(first: list[str]) -> list[tuple[str, str]]:
    """The study's languages first, then every language Django names, by name."""
    known = sorted(
        ((code, language_name(code)) for code, info in LANG_INFO.items() if "name" in info),
        key=lambda choice: choice[1],
    )
    head = [(tag, language_name(tag)) for tag in dict.fromkeys(first)]
    taken = {tag.lower() for tag, _label in head}
    return head + [(code, label) for code, label in known if code not in taken]


class StudyForm(forms.ModelForm):
    """Name, description and languages; the slug only when the study is created."""

    class Meta:
        model = Study
        fields = ["name", "slug", "description", "languages"]
        labels = {"slug": "Short name (slug)", "languages": "Languages"}
        help_texts = {
            "slug": "Used in addresses and by scripts; letters, numbers and hyphens. Leave it "
            "empty to make one from the name. It cannot change later.",
            "languages": "BCP 47 tags, comma-separated, e.g. 'en, de, fi'. The first is the "
            "default for new workshops and transcripts.",
        }
        widgets = {"description": forms.Textarea(attrs={"rows": 3})}

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            del self.fields["slug"]
        else:
            self.fields["slug"].required = False

    def clean_slug(self) -> str:
        slug = self.cleaned_data.get("slug", "").strip()
        if slug in RESERVED_SLUGS:
            raise forms.ValidationError(f"'{slug}' names a page of the site; choose another.")
        return slug

    def clean_languages(self) -> str:
        value = self.cleaned_data["languages"]
        if not language_list(value):
            raise forms.ValidationError("Name at least one language, e.g. 'en'.")
        return value


class StudyDeleteForm(forms.Form):
    name = forms.CharField(label="Type the study's name to confirm", max_length=200)

    def __init__(self, *args: object, study: Study, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.study = study

    def clean_name(self) -> str:
        name = self.cleaned_data["name"]
        if name.strip() != self.study.name:
            raise forms.ValidationError(
                f"That is not the study's name; type {self.study.name} exactly."
            )
        return name


class DocumentForm(forms.Form):
    title = forms.CharField(max_length=200)
    workshop = forms.ModelChoiceField(queryset=Workshop.objects.none(), empty_label=None)

    def __init__(self, *args: object, document: Document, **kwargs: object) -> None:
        kwargs.setdefault("initial", {"title": document.title, "workshop": document.workshop_id})
        super().__init__(*args, **kwargs)
        self.fields["workshop"].queryset = Workshop.objects.filter(study_id=document.study_id)
        self.fields[
            "workshop"
        ].help_text = "Moving a document changes where it is counted; its text and codings stay."
        if document.workshop_id is None:
            self.fields["workshop"].required = False
            self.fields["workshop"].empty_label = "No workshop"


class WorkshopForm(forms.ModelForm):
    class Meta:
        model = Workshop
        fields = ["code", "site", "date", "country", "language"]
        widgets = {"date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}
        help_texts = {
            "language": "BCP 47 tag, e.g. 'fi' or 'en-GB'; transcripts imported "
            "later use it. Documents already imported keep theirs."
        }

    def clean_code(self) -> str:
        code = self.cleaned_data["code"].strip()
        clash = Workshop.objects.filter(study_id=self.instance.study_id, code__iexact=code)
        if clash.exclude(pk=self.instance.pk).exists():
            raise forms.ValidationError(f"Another workshop of this study has the code {code}.")
        return code


class ParticipantForm(forms.Form):
    """A participant's speaker labels and one field per variable, typed as the variable."""

    aliases = forms.CharField(
        required=False,
        max_length=500,
        label="Speaker labels",
        help_text="Comma-separated labels that mean this participant in transcripts.",
    )

    def __init__(
        self,
        *args: object,
        participant: Participant,
        variables: list[Variable],
        **kwargs: object,
    ) -> None:
        stored = {v.variable_id: v.value for v in participant.values.all()}
        initial = {"aliases": participant.aliases}
        initial |= {f"var_{v.pk}": stored.get(v.pk, "") for v in variables}
        kwargs.setdefault("initial", initial)
        super().__init__(*args, **kwargs)
        self.variables = variables
        for variable in variables:
            name = f"var_{variable.pk}"
            if variable.kind == Variable.Kind.CHOICE:
                choices = [("", "No value")] + [(c, c) for c in variable.choice_list]
                self.fields[name] = forms.ChoiceField(
                    label=variable.name, choices=choices, required=False
                )
            elif variable.kind == Variable.Kind.NUMBER:
                self.fields[name] = forms.CharField(
                    label=variable.name,
                    required=False,
                    max_length=50,
                    help_text="A number.",
                    widget=forms.TextInput(attrs={"inputmode": "decimal"}),
                )
            else:
                self.fields[name] = forms.CharField(
                    label=variable.name, required=False, max_length=500
                )

    def clean(self) -> dict:
        cleaned = super().clean()
        for variable in self.variables:
            name = f"var_{variable.pk}"
            if name in cleaned:
                try:
                    clean_variable_value(variable, cleaned[name])
                except StudyError as exc:
                    self.add_error(name, str(exc).split(": ", 1)[-1])
        return cleaned

    def values(self) -> dict[Variable, str]:
        return {v: self.cleaned_data.get(f"var_{v.pk}", "") for v in self.variables}


class RosterLanguageForm(forms.Form):
    """The language of the new workshops a roster gives none for."""

    language = forms.ChoiceField(label="Language of these workshops")

    def __init__(self, *args: object, study: Study, workshops: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["language"]
        field.choices = language_choices(study.language_list or ["en"])
        field.initial = study.language
        field.help_text = (
            f"The roster gives no language for {', '.join(workshops)}. Sentence splitting and "
            "word search use it; the study's first language is suggested."
        )

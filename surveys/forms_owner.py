"""The owner's forms for a survey: its settings (new and edit) and making its links."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from studies.models import Study, Workshop, language_list, validate_language_list
from surveys.models import Survey, free_slug, slug_problem


class DateTimeInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, **kwargs: object) -> None:
        super().__init__(format="%Y-%m-%dT%H:%M", **kwargs)


class SurveyForm(forms.ModelForm):
    """Title, slug, description, languages, wave, the anonymous link and the open dates."""

    class Meta:
        model = Survey
        fields = [
            "title",
            "slug",
            "description",
            "languages",
            "wave_of",
            "allows_anonymous",
            "opens_at",
            "closes_at",
        ]
        labels = {
            "slug": "Short name (slug)",
            "wave_of": "A later wave of",
            "allows_anonymous": "Also allow anonymous answers through one shared link",
            "opens_at": "Opens at",
            "closes_at": "Closes at",
        }
        help_texts = {
            "slug": "Letters, digits and hyphens; used in addresses, exports and commands. "
            "Left empty, it is made from the title.",
            "allows_anonymous": "Each browser that opens the shared link answers as a respondent "
            "of its own, not tied to a participant. The link is on the survey's links page.",
            "opens_at": "In the server's time zone. Left empty, the survey is open from now on.",
            "closes_at": "Left empty, it stays open until you set a time.",
        }
        widgets = {
            "description": forms.Textarea(attrs={"rows": 3}),
            "opens_at": DateTimeInput(),
            "closes_at": DateTimeInput(),
        }

    def __init__(self, *args: object, study: Study, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.study = study
        self.fields["slug"].required = False
        self.fields["title"].widget.attrs["autofocus"] = True
        others = study.surveys.all()
        if self.instance.pk:
            others = others.exclude(pk=self.instance.pk)
        self.fields["wave_of"].queryset = others
        self.fields["wave_of"].empty_label = "(none: a survey of its own)"
        self.fields["wave_of"].help_text = (
            "For a post-workshop survey with the same questions as a pre-workshop one: change "
            "per participant is then computed between the two."
        )
        self.fields["languages"].help_text = (
            "BCP 47 tags, comma-separated, e.g. 'en, de, fi'; the first is the language the "
            "questions are written in, the others are translations."
        )
        if not self.instance.pk:
            self.initial.setdefault("languages", ", ".join(study.language_list) or "en")

    def clean_slug(self) -> str:
        slug = self.cleaned_data.get("slug", "").strip()
        if not slug:
            return free_slug(self.study, self.cleaned_data.get("title", ""), survey=self.instance)
        problem = slug_problem(self.study, slug, survey=self.instance)
        if problem:
            raise ValidationError(problem)
        return slug

    def clean_languages(self) -> str:
        value = self.cleaned_data.get("languages", "")
        validate_language_list(value)
        tags = language_list(value)
        if not tags:
            raise ValidationError("Name at least one language, e.g. 'en'.")
        if len(set(tags)) != len(tags):
            raise ValidationError("Name each language once.")
        return ", ".join(tags)

    def clean_wave_of(self) -> Survey | None:
        earlier = self.cleaned_data.get("wave_of")
        # A wave of a wave of this survey would make the waves a circle.
        seen = earlier
        while seen is not None and self.instance.pk:
            if seen.pk == self.instance.pk:
                raise ValidationError(
                    f"{earlier.title} is itself a later wave of this survey: choose an earlier one."
                )
            seen = seen.wave_of
        return earlier

    def clean(self) -> dict:
        data = super().clean()
        opens, closes = data.get("opens_at"), data.get("closes_at")
        if opens and closes and closes <= opens:
            self.add_error(
                "closes_at", "The survey must close after it opens: choose a later closing time."
            )
        return data


class CreateLinksForm(forms.Form):
    """Links for everyone on the roster, or for one workshop."""

    workshop = forms.ModelChoiceField(
        queryset=Workshop.objects.none(),
        required=False,
        empty_label="Everyone on the roster",
        label="Create links for",
    )

    def __init__(self, *args: object, study: Study, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self.fields["workshop"].queryset = study.workshops.order_by("code")
        self.fields["workshop"].label_from_instance = lambda w: f"Workshop {w.code}"

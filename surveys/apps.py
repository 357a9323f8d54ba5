from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "surveys"
    verbose_name = "Surveys"

    def ready(self) -> None:
        from studies.api import STUDY_COUNTERS
        from studies.views import PARTICIPANT_PANELS
        from surveys.panels import study_counts, surveys_panel

        if study_counts not in STUDY_COUNTERS:
            STUDY_COUNTERS.append(study_counts)
        if surveys_panel not in PARTICIPANT_PANELS:
            PARTICIPANT_PANELS.append(surveys_panel)

        from studies.signals import participant_withdrawn, withdrawal_previewed
        from surveys.withdrawal import delete_for_withdrawal, preview_withdrawal

        withdrawal_previewed.connect(preview_withdrawal, dispatch_uid="surveys-withdrawal-preview")
        participant_withdrawn.connect(delete_for_withdrawal, dispatch_uid="surveys-withdrawal")

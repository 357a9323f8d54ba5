from django.contrib import admin

from studies.models import (
    Document,
    Membership,
    Participant,
    ParticipantValue,
    PendingImport,
    Sentence,
    Study,
    Turn,
    Variable,
    Workshop,
)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Study)
class StudyAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "blind_coding", "created_at"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [MembershipInline]


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["study", "user", "role"]
    list_filter = ["study", "role"]
    autocomplete_fields = ["user"]


@admin.register(Workshop)
class WorkshopAdmin(admin.ModelAdmin):
    list_display = ["code", "study", "country", "site", "date", "language"]
    list_filter = ["study", "country"]
    search_fields = ["code", "site"]


class ParticipantValueInline(admin.TabularInline):
    model = ParticipantValue
    extra = 0


@admin.register(Participant)
class ParticipantAdmin(admin.ModelAdmin):
    list_display = ["code", "study", "workshop", "aliases"]
    list_filter = ["study", "workshop"]
    search_fields = ["code", "aliases"]
    inlines = [ParticipantValueInline]


@admin.register(Variable)
class VariableAdmin(admin.ModelAdmin):
    list_display = ["name", "study", "kind", "order"]
    list_filter = ["study", "kind"]


@admin.register(ParticipantValue)
class ParticipantValueAdmin(admin.ModelAdmin):
    list_display = ["participant", "variable", "value"]
    list_filter = ["variable__study", "variable"]


@admin.register(Document)
class DocumentAdmin(admin.ModelAdmin):
    list_display = ["title", "study", "workshop", "kind", "language", "word_count", "created_at"]
    list_filter = ["study", "kind", "language"]
    search_fields = ["title", "source_name"]
    # Offsets everywhere point into the text: it is never edited by hand.
    readonly_fields = ["text", "sha256", "source_name", "source_format", "word_count", "created_at"]


@admin.register(Turn)
class TurnAdmin(admin.ModelAdmin):
    list_display = ["document", "seq", "speaker", "participant", "start", "end", "start_ms"]
    list_filter = ["document__study"]
    search_fields = ["speaker"]
    raw_id_fields = ["document", "participant"]
    readonly_fields = ["start", "end"]


@admin.register(Sentence)
class SentenceAdmin(admin.ModelAdmin):
    list_display = ["document", "seq", "start", "end"]
    list_filter = ["document__study"]
    raw_id_fields = ["document"]
    readonly_fields = ["start", "end"]


@admin.register(PendingImport)
class PendingImportAdmin(admin.ModelAdmin):
    list_display = ["filename", "kind", "study", "user", "created_at"]
    exclude = ["data"]

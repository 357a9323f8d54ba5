from django.contrib import admin

from coding.models import Assignment, Code, Coding, Memo, SuggestionDecision


@admin.register(Code)
class CodeAdmin(admin.ModelAdmin):
    list_display = ["name", "study", "parent", "codable", "colour", "order", "shortcut"]
    list_filter = ["study", "codable"]
    search_fields = ["name", "definition"]
    raw_id_fields = ["parent"]


@admin.register(Coding)
class CodingAdmin(admin.ModelAdmin):
    list_display = ["code", "document", "coder", "start", "end", "consensus", "created_at"]
    list_filter = ["document__study", "consensus", "coder"]
    raw_id_fields = ["document", "code"]


@admin.register(Memo)
class MemoAdmin(admin.ModelAdmin):
    list_display = ["study", "author", "document", "code", "coding", "created_at"]
    list_filter = ["study"]
    raw_id_fields = ["document", "code", "coding"]


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["document", "coder", "status", "updated_at"]
    list_filter = ["document__study", "status"]
    raw_id_fields = ["document"]


@admin.register(SuggestionDecision)
class SuggestionDecisionAdmin(admin.ModelAdmin):
    list_display = ["code", "document", "user", "start", "end", "verdict"]
    raw_id_fields = ["document", "code"]

"""Caption transcripts: WebVTT (.vtt) and SubRip (.srt)."""

from __future__ import annotations

import pytest

from studies.importers import FileRejected, ParsedTranscript, parse_transcript


def said(parsed: ParsedTranscript) -> list[tuple[str, str]]:
    return [(turn.speaker, parsed.text[turn.start : turn.end]) for turn in parsed.turns]


def times(parsed: ParsedTranscript) -> list[tuple[int | None, int | None]]:
    return [(turn.start_ms, turn.end_ms) for turn in parsed.turns]


def rejection(text: str, filename: str) -> str:
    with pytest.raises(FileRejected) as caught:
        parse_transcript(text.encode(), filename)
    return str(caught.value)


# WebVTT

TEAMS_VTT = """WEBVTT
Kind: captions
Language: en

NOTE exported by a meeting tool,
it spans two lines

STYLE
::cue { color: yellow }

1
00:00:01.000 --> 00:00:04.500 align:start
<v Anna Virtanen>Should the bank explain
its <i>decision</i>?</v>

2
00:00:04.500 --> 00:00:06.000
<v Anna Virtanen>Tom &amp; I asked &lt;twice&gt;.</v>

00:00:06.200 --> 00:00:09.000
<v.loud Ben>No&nbsp;answer <c.yellow>at all</c>.</v>

01:02.000 --> 01:04.000
<v Anna Virtanen><00:01:02.500>Then <b>we</b> <lang fi>valitimme</lang>.
"""


def test_it_reads_voice_tags_and_merges_consecutive_cues_of_one_speaker() -> None:
    parsed = parse_transcript(TEAMS_VTT.encode(), "meeting.vtt")

    assert said(parsed) == [
        ("Anna Virtanen", "Should the bank explain its decision? Tom & I asked <twice>."),
        ("Ben", "No answer at all."),
        ("Anna Virtanen", "Then we valitimme."),
    ]
    assert times(parsed) == [(1_000, 6_000), (6_200, 9_000), (62_000, 64_000)]
    assert parsed.text == (
        "Anna Virtanen: Should the bank explain its decision? Tom & I asked <twice>.\n\n"
        "Ben: No answer at all.\n\n"
        "Anna Virtanen: Then we valitimme."
    )
    assert parsed.format == "vtt"
    assert parsed.encoding == "utf-8"
    assert parsed.warnings == []


def test_it_reads_name_prefixes_in_cue_text() -> None:
    vtt = (
        "WEBVTT\n\n"
        "00:00.000 --> 00:02.000\nModerator: Welcome.\n\n"
        "00:02.000 --> 00:03.000\nModerator: Shall we start?\n\n"
        "00:03.000 --> 00:05.000\nP07: Yes.\n"
    )

    parsed = parse_transcript(vtt.encode(), "w.vtt")

    assert said(parsed) == [("Moderator", "Welcome. Shall we start?"), ("P07", "Yes.")]
    assert times(parsed) == [(0, 3_000), (3_000, 5_000)]


def test_it_continues_the_current_turn_with_a_cue_that_names_nobody() -> None:
    vtt = (
        "WEBVTT\n\n"
        "00:00.000 --> 00:02.000\n<v Anna>I think</v>\n\n"
        "00:02.000 --> 00:04.000\nit should be explained.\n\n"
        "00:04.000 --> 00:05.000\n<v Ben>Why?</v>\n"
    )

    parsed = parse_transcript(vtt.encode(), "w.vtt")

    assert said(parsed) == [("Anna", "I think it should be explained."), ("Ben", "Why?")]
    assert times(parsed) == [(0, 4_000), (4_000, 5_000)]


def test_it_gives_cues_before_any_speaker_to_unknown() -> None:
    vtt = (
        "WEBVTT\n\n"
        "00:00.000 --> 00:01.000\n[music]\n\n"
        "00:01.000 --> 00:02.000\nHello?\n\n"
        "00:02.000 --> 00:03.000\n<v Anna>Hi.\n"
    )

    parsed = parse_transcript(vtt.encode(), "w.vtt")

    assert said(parsed) == [("Unknown", "[music] Hello?"), ("Anna", "Hi.")]
    assert parsed.warnings == []


def test_it_warns_when_no_cue_names_a_speaker() -> None:
    vtt = "WEBVTT\n\n00:00.000 --> 00:01.000\nHello.\n\n00:01.000 --> 00:02.000\nAnyone?\n"

    parsed = parse_transcript(vtt.encode(), "w.vtt")

    assert said(parsed) == [("Unknown", "Hello. Anyone?")]
    assert parsed.warnings == [
        "No speaker names found in the cues: the whole text is one turn by 'Unknown'."
    ]


def test_it_splits_a_cue_holding_two_voices() -> None:
    vtt = "WEBVTT\n\n00:00.000 --> 00:02.000\n<v Anna>Coming?</v>\n<v Ben>Yes.</v>\n"

    parsed = parse_transcript(vtt.encode(), "w.vtt")

    assert said(parsed) == [("Anna", "Coming?"), ("Ben", "Yes.")]
    assert times(parsed) == [(0, 2_000), (0, 2_000)]


def test_it_skips_cues_without_words() -> None:
    vtt = (
        "WEBVTT\n\n"
        "00:00.000 --> 00:01.000\n<v Anna>Hi.</v>\n\n"
        "00:01.000 --> 00:02.000\n<i> </i>\n\n"
        "00:02.000 --> 00:03.000\n<v Anna>Again.</v>\n"
    )

    parsed = parse_transcript(vtt.encode(), "w.vtt")

    assert said(parsed) == [("Anna", "Hi. Again.")]


def test_it_reads_a_vtt_file_with_crlf_line_endings_and_a_bom() -> None:
    vtt = "\ufeffWEBVTT\r\n\r\n00:00.000 --> 00:01.000\r\nAnna: Hei.\r\n"

    parsed = parse_transcript(vtt.encode(), "w.vtt")

    assert said(parsed) == [("Anna", "Hei.")]
    assert parsed.encoding == "utf-8-sig"


def test_it_reads_a_first_cue_that_follows_the_header_without_a_blank_line() -> None:
    vtt = "WEBVTT\n00:00.000 --> 00:01.000\nAnna: Hei.\n"

    parsed = parse_transcript(vtt.encode(), "w.vtt")

    assert said(parsed) == [("Anna", "Hei.")]


def test_it_rejects_a_vtt_file_without_the_header() -> None:
    assert rejection("1\n00:00:01.000 --> 00:00:02.000\nHi\n", "notes.vtt") == (
        "notes.vtt, line 1: the first line must be 'WEBVTT', found '1': this is not a WebVTT file"
    )


def test_it_rejects_a_malformed_cue_timing_naming_the_line() -> None:
    vtt = (
        "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nFine.\n\nintro\n00:01 --> 00:00:04.000\nBroken.\n"
    )

    assert rejection(vtt, "notes.vtt") == (
        "notes.vtt, line 7: cue timing '00:01' is not a WebVTT timestamp "
        "(expected hh:mm:ss.ttt or mm:ss.ttt)"
    )


def test_it_rejects_a_cue_without_a_timing_line() -> None:
    vtt = "WEBVTT\n\n00:00.000 --> 00:01.000\nFine.\n\nstray words\nmore words\n"

    assert rejection(vtt, "notes.vtt") == (
        "notes.vtt, line 7: 'more words' is not a cue timing line "
        "(expected e.g. '00:00:01.000 --> 00:00:04.000')"
    )


def test_it_rejects_a_cue_that_ends_before_it_starts() -> None:
    vtt = "WEBVTT\n\n00:00:05.000 --> 00:00:04.000\nBackwards.\n"

    assert rejection(vtt, "notes.vtt") == (
        "notes.vtt, line 3: the cue ends (00:00:04.000) before it starts (00:00:05.000)"
    )


def test_it_rejects_a_vtt_file_without_cues() -> None:
    assert rejection("WEBVTT\n\nNOTE nothing here\n", "empty.vtt") == (
        "empty.vtt: contains no cues with text"
    )


# SubRip

SRT = """1
00:00:01,000 --> 00:00:03,000
Anna: <i>Would you</i> trust
a machine to decide?

2
00:00:03,000 --> 00:00:05,250
{\\an8}Not for a loan.

3
00:00:05,500 --> 00:00:07,000
Ben: Only if I can argue with it.

4
00:00:07,000 --> 00:00:08,000
<v Cara>Me neither & never.</v>
"""


def test_it_reads_srt_speakers_and_merges_their_cues() -> None:
    parsed = parse_transcript(SRT.encode(), "w.srt")

    assert said(parsed) == [
        ("Anna", "Would you trust a machine to decide? Not for a loan."),
        ("Ben", "Only if I can argue with it."),
        ("Cara", "Me neither & never."),
    ]
    assert times(parsed) == [(1_000, 5_250), (5_500, 7_000), (7_000, 8_000)]
    assert parsed.text.startswith("Anna: Would you trust a machine to decide? Not for a loan.\n\n")
    assert parsed.format == "srt"
    assert parsed.warnings == []


def test_it_strips_dialogue_dashes_in_srt() -> None:
    srt = "1\n00:00:01,000 --> 00:00:02,000\n- Anna: Coming?\n- Ben: Yes.\n"

    parsed = parse_transcript(srt.encode(), "w.srt")

    assert said(parsed) == [("Anna", "Coming?"), ("Ben", "Yes.")]


def test_it_keeps_ampersands_in_srt_as_typed() -> None:
    srt = "1\n00:00:01,000 --> 00:00:02,000\nAnna: AT&amp;T &copy\n"

    parsed = parse_transcript(srt.encode(), "w.srt")

    assert said(parsed) == [("Anna", "AT&amp;T &copy")]


def test_it_rejects_a_malformed_srt_timing_naming_the_line() -> None:
    srt = (
        "1\n00:00:01,000 --> 00:00:02,000\nFine.\n\n"
        "2\n00:00:03,000 -> 00:00:04,000\nBroken arrow.\n"
    )

    assert rejection(srt, "w.srt") == (
        "w.srt, line 6: '00:00:03,000 -> 00:00:04,000' is not a subtitle timing line "
        "(expected a number, then a timing line like '00:00:01,000 --> 00:00:04,000', "
        "then the text)"
    )


def test_it_rejects_a_text_file_named_srt() -> None:
    assert rejection("Anna: this is a plain transcript\n", "w.srt") == (
        "w.srt, line 1: 'Anna: this is a plain transcript' is not part of a subtitle "
        "(expected a number, then a timing line like '00:00:01,000 --> 00:00:04,000', "
        "then the text)"
    )


def test_it_rejects_srt_subtitles_without_words() -> None:
    srt = "1\n00:00:01,000 --> 00:00:02,000\n<i></i>\n"

    assert rejection(srt, "w.srt") == "w.srt: contains no subtitles with text"

"""Issue 22, items 2 and 3 without an engine: the fit report's fields, the mode setting,
the stop windows, and which lines the listening check retakes first (suspected cuts)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from app.cli import _parser, setting_changes
from core.deliver.dub_report import LineReport, fit_fields
from core.errors import OptionError
from core.lines.cut_check import cut_note, last_words_heard, retake_first
from core.lines.listening import TakeCheck
from core.settings import DubSettings
from models.contract import DurationMode
from models.guided import decode_targets, fit_record, stop_windows
from models.t2s import StopWindow


def line(text: str, heard: str, error: float, cut: bool):
    take = SimpleNamespace(fit={"method": "guided", "suspected_cut": cut})
    return SimpleNamespace(
        cue=SimpleNamespace(text=text), take=take, check=TakeCheck(error, heard), index=text
    )


def test_last_words_are_compared_after_one_normalisation():
    assert last_words_heard("well, where have you been", "Where have you BEEN?", "en")
    assert last_words_heard("where have you bean", "Where have you been?", "en")  # half: ok
    assert not last_words_heard("where have you", "Where have you been?", "en")
    assert not last_words_heard("", "It never came.", "en")
    assert last_words_heard("我们明天见面吧", "我们明天见面吧。", "zh")
    assert not last_words_heard("我们明天", "我们明天见面吧。", "zh")


def test_suspected_cuts_not_heard_out_are_retaken_first():
    fine = line("It never came.", "it never came", 0.0, cut=False)
    garbled = line("Where have you been?", "where are you", 0.5, cut=False)
    cut = line("Waiting for the train.", "waiting for the", 0.25, cut=True)
    cut_but_whole = line("Hello there.", "hello there", 0.0, cut=True)
    order = retake_first([fine, garbled, cut, cut_but_whole], 0.4, "en")
    # the cut first (under the error limit, but its last words are missing), then the
    # garbled line; a suspected cut whose last words are heard is left alone
    assert order == [cut, garbled]
    assert "suspected cut" in cut_note(cut, "en") and cut_note(garbled, "en") == ""


def test_the_fit_report_reaches_the_line_report():
    fit = {"method": "guided", "tokens_target": 75, "tokens_decoded": 86, "stop": "forced",
           "stop_wish": None, "window": [64, 86], "stretch": -0.1, "suspected_cut": True}  # fmt: skip
    fields = fit_fields(fit)
    report = LineReport(1, "A", "x", 0, 1000, "guided", 1, 1, 0, **fields)
    assert (report.fit_method, report.tokens_target, report.tokens_decoded) == ("guided", 75, 86)
    assert (report.stop, report.stop_wish, report.stop_window) == ("forced", None, [64, 86])
    assert report.fit_stretch == -0.1 and report.suspected_cut is True
    assert fit_fields(None) == {}
    voxcpm2 = fit_fields({"method": "paced", "stretch": 0.03, "candidates": 2, "pace": "fast"})
    assert voxcpm2 == {"fit_method": "paced", "fit_stretch": 0.03, "fit_candidates": 2,
                       "fit_pace": "fast"}  # fmt: skip


def test_guided_is_the_default_mode_and_the_window_a_setting():
    settings = DubSettings()
    assert settings.duration_mode is DurationMode.GUIDED and settings.stop_window == 0.15
    assert DubSettings.from_dict({"duration_mode": "guided"}).duration_mode is DurationMode.GUIDED
    assert DubSettings.from_dict(settings.to_dict()) == settings
    with pytest.raises(OptionError):
        DubSettings(stop_window=0.8).validate()
    args = _parser().parse_args(
        ["dub", "v.mp4", "-o", "o.mp4", "--mode", "guided", "--stop-window", "0.2"]
    )
    changes = setting_changes(args)
    assert changes["duration_mode"] == "guided" and changes["stop_window"] == 0.2
    assert DubSettings().with_changes(**changes).duration_mode is DurationMode.GUIDED


def test_stop_windows_round_around_each_share_and_stay_in_the_table():
    assert stop_windows([75, 20], 0.15, limit=100) == [StopWindow(64, 86), StopWindow(17, 23)]
    assert stop_windows([95], 0.15, limit=100) == [StopWindow(81, 100)]
    assert stop_windows([1], 0.15, limit=100) == [StopWindow(1, 1)]
    assert decode_targets(DurationMode.EXACT, [75], 0.15, 100) == [75]
    assert decode_targets(DurationMode.NATURAL, [None], 0.15, 100) == [None]


def test_a_multi_segment_fit_sums_its_segments():
    targets = [StopWindow(34, 46), StopWindow(17, 23)]
    fit = fit_record(
        DurationMode.GUIDED, 60, targets, [(40, False, 12), (23, True, None)], 100, 108
    )
    assert fit["tokens_decoded"] == 63 and fit["window"] == [51, 69]
    assert fit["stop"] == "forced" and fit["stop_wish"] is None and fit["suspected_cut"]
    assert fit["stretch"] == round(100 / 108 - 1, 4)
    whole = fit_record(
        DurationMode.GUIDED, 60, targets, [(40, False, 12), (20, False, 20)], 100, 103
    )
    assert whole["stop"] == "natural" and whole["stop_wish"] == 32 and not whole["suspected_cut"]

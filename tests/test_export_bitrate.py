"""A surround dub is encoded with a surround budget (issue 21's film helper left the 5.1 dub
at the stereo 192k): the stereo rate per full-range channel pair, the LFE free."""

from __future__ import annotations

import numpy as np
import soundfile as sf

from core.deliver.mux import _channels_of, dub_bitrate


def test_stereo_and_mono_keep_the_given_rate():
    assert dub_bitrate("192k", 2) == "192k"
    assert dub_bitrate("192k", 1) == "192k"


def test_surround_gets_the_rate_per_full_range_pair():
    assert dub_bitrate("192k", 6) == "480k"  # 5 full-range channels
    assert dub_bitrate("192k", 8) == "672k"  # 7 full-range channels
    assert dub_bitrate("256000", 6) == "640k"


def test_the_channel_count_is_read_from_the_dub_file(tmp_path):
    wav = tmp_path / "dub.wav"
    sf.write(str(wav), np.zeros((4800, 6), dtype=np.float32), 48000)
    assert _channels_of(wav) == 6
    assert _channels_of(tmp_path / "missing.wav") == 2

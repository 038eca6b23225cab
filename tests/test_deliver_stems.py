"""Delivery stems (core/deliver/stems.py) and take files (core/deliver/takes.py): 48 kHz
24-bit, as long as the video, aligned sample for sample with the mix."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from core.audio.mix_stream import mix_to_file
from core.audio.mixdown import Background, Clip, MixSettings
from core.deliver.spec import Delivery, DeliveryLine
from core.deliver.stems import write_stems
from core.deliver.takes import frame_start_sample, write_takes

RATE = 48000
DURATION = 13.37  # not whole seconds nor whole blocks: the last block is short
CLICK_AT = 5000  # sample of the click inside line 2's take, at 22.05 kHz


def _take(seconds: float, f0: float) -> np.ndarray:
    t = np.arange(int(seconds * 22050)) / 22050
    return (0.1 * np.sin(2 * np.pi * f0 * t)).astype(np.float32)


def make_delivery(
    folder, background=Background.DUCK, fps=25.0, block_s=10, channels=2, layout=None
) -> Delivery:
    rng = np.random.default_rng(1)
    n = int(round(DURATION * RATE))
    bed = (0.01 * rng.standard_normal((n, channels))).astype(np.float32)
    bed_path = folder / "bed.wav"
    sf.write(bed_path, bed, RATE, "FLOAT")
    clicked = _take(2.0, 150.0)
    clicked[CLICK_AT] = 0.9  # a click in the middle of a line
    clips = [
        Clip(1234.5, _take(1.5, 200.0), line_id=1),
        Clip(3333.3, clicked, line_id=2),  # crosses no block edge
        Clip(9100.7, _take(2.5, 120.0), line_id=3),  # crosses the 10 s block edge
        Clip(12900.0, _take(1.2, 240.0), line_id=4),  # runs past the end: cut
    ]
    speakers = {1: "Ann", 2: "Bob", 3: "Ann", 4: "Bob"}
    settings = MixSettings(background=background)
    mix = mix_to_file(
        clips, DURATION, bed_path, folder / "mix.wav", settings, layout, block_s=block_s
    )
    placed = {p.line_id: p for p in mix.placements}
    return Delivery(
        name="film.dubbed",
        video=folder / "film.mp4",
        num_samples=mix.num_samples,
        fps=fps,
        lines=[DeliveryLine(c, placed[c.line_id], speakers[c.line_id]) for c in clips],
        mix_path=mix.path,
        bed_path=bed_path,
        background=background,
        gain_db=mix.gain_db,
        layout=layout,
    )


@pytest.mark.parametrize("background", [Background.DUCK, Background.SEPARATE])
def test_stems_are_24_bit_as_long_as_the_video_and_add_up_to_the_mix(tmp_path, background):
    d = make_delivery(tmp_path, background)
    paths = write_stems(d, tmp_path / "out", block_s=3)  # blocks unlike the mix's
    assert {p.name for p in paths.values()} == {
        "film.dubbed.mix.wav",
        "film.dubbed.dialogue.wav",
        "film.dubbed.music-effects.wav",
        "film.dubbed.dialogue.Ann.wav",
        "film.dubbed.dialogue.Bob.wav",
    }
    stems = {}
    for role, p in paths.items():
        info = sf.info(p)
        assert (info.samplerate, info.subtype, info.frames) == (RATE, "PCM_24", d.num_samples)
        stems[role], _ = sf.read(p, dtype="float64")
    assert not list((tmp_path / "out").glob(".*part"))  # no temp file left
    lsb = 2.0**-23
    np.testing.assert_allclose(
        stems["dialogue"] + stems["music-effects"], stems["mix"], atol=3 * lsb
    )
    np.testing.assert_allclose(
        stems["dialogue.Ann"] + stems["dialogue.Bob"], stems["dialogue"], atol=3 * lsb
    )
    mix, _ = sf.read(d.mix_path, dtype="float64")
    np.testing.assert_allclose(stems["mix"], mix, atol=lsb)
    # Each speaker's stem holds only their own lines.
    bob = stems["dialogue.Bob"]
    for ln in d.lines:
        p = ln.placement
        if ln.speaker == "Ann" and p.length:
            assert np.abs(bob[p.start_sample : p.end_sample]).max() == 0.0


def test_a_click_in_a_line_lands_on_one_sample_in_the_mix_and_the_dialogue(tmp_path):
    d = make_delivery(tmp_path)
    paths = write_stems(d, tmp_path / "out")
    line = next(ln for ln in d.lines if ln.clip.line_id == 2)
    expected = line.placement.start_sample + round(CLICK_AT * RATE / 22050)
    at = {}
    for role in ("mix", "dialogue", "dialogue.Bob"):
        x, _ = sf.read(paths[role], dtype="float64")
        at[role] = int(np.argmax(np.abs(x[:, 0])))
    assert at["mix"] == at["dialogue"] == at["dialogue.Bob"]
    assert abs(at["mix"] - expected) <= 1  # soxr's interpolation may put it one over


def test_take_files_put_each_take_on_its_sample_behind_a_frame_aligned_start(tmp_path):
    d = make_delivery(tmp_path, fps=30000 / 1001)
    takes = write_takes(d, tmp_path / "takes")
    dialogue = write_stems(d, tmp_path / "out")["dialogue"]
    stem, _ = sf.read(dialogue, dtype="float64")
    assert [t.line_id for t in takes] == [1, 2, 3, 4]
    for t in takes:
        audio, rate = sf.read(t.path, dtype="float64")
        info = sf.info(t.path)
        assert (rate, info.subtype, info.channels) == (RATE, "PCM_24", 1)
        at = frame_start_sample(t.frame, d.fps)
        assert 0 <= t.lead_samples < RATE / d.fps + 1
        assert at + t.lead_samples == t.start_sample
        # The file, laid at its frame, is the dialogue stem there, sample for sample.
        end = min(at + audio.size, d.num_samples)
        np.testing.assert_allclose(audio[: end - at], stem[at:end, 0], atol=2.0**-22)
        assert np.abs(audio[: t.lead_samples]).max(initial=0.0) == 0.0


def test_a_surround_delivery_keeps_the_dialogue_on_the_centre(tmp_path):
    d = make_delivery(tmp_path, channels=6, layout="5.1")
    paths = write_stems(d, tmp_path / "out")
    dialogue, _ = sf.read(paths["dialogue"], dtype="float64")
    assert dialogue.shape == (d.num_samples, 6)
    assert np.abs(dialogue[:, 2]).max() > 0.01  # FC
    assert np.abs(np.delete(dialogue, 2, axis=1)).max() == 0.0
    for p in paths.values():
        info = sf.info(p)
        assert (info.channels, info.subtype) == (6, "PCM_24")
    mix, _ = sf.read(paths["mix"], dtype="float64")
    me, _ = sf.read(paths["music-effects"], dtype="float64")
    np.testing.assert_allclose(dialogue + me, mix, atol=3 * 2.0**-23)

"""The VoxCPM2 engine on random-weight folders in the `voxcpm` package's own layout
(tests/voxcpm2_fixture.py): loading, voices, exact lengths after fitting, the fit
report, capabilities, damaged folders, stop, and that nothing reaches for a network."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import numpy as np
import pytest
import voxcpm  # noqa: F401  (installed by install.sh --dev: missing must fail, not skip)

from models.contract import (
    STOPPED,
    DurationControl,
    DurationMode,
    EmotionSource,
    EmotionSpec,
    ModelFilesDamaged,
    ModelFilesMissing,
    SynthesisRequest,
)
from models.units import samples_for
from models.voxcpm2 import fit
from models.voxcpm2.engine import OUTPUT_RATE, VoxCPM2Engine, voxcpm2_capabilities
from tests.voxcpm2_fixture import make_voxcpm2_folder


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory) -> dict[str, Path]:
    """Model directories holding a voxcpm2/ folder whose stop head stops at random,
    always (as early as allowed), or never (runs to its step bound)."""
    out = {}
    for rule in ("random", "always", "never"):
        root = tmp_path_factory.mktemp(f"vox-{rule}")
        make_voxcpm2_folder(root / "voxcpm2", stop=rule)
        out[rule] = root
    return out


@pytest.fixture(scope="module")
def engines(model_dirs) -> dict[str, VoxCPM2Engine]:
    return {rule: VoxCPM2Engine.load(d, "cpu") for rule, d in model_dirs.items()}


def _prompt(seconds: float = 3.0, rate: int = 22050, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * rate)) / rate
    return (0.2 * np.sin(2 * np.pi * 180 * t) + 0.05 * rng.standard_normal(t.size)).astype(
        np.float32
    )


def _request(engine, text: str, duration: float | None, **kw) -> SynthesisRequest:
    voice = kw.pop("voice", None) or engine.prepare_voice(_prompt(), 22050)
    return SynthesisRequest(text=text, voice=voice, duration_s=duration, **kw)


def test_capabilities_say_what_it_honours():
    caps = voxcpm2_capabilities()
    assert caps.sample_rate == OUTPUT_RATE == 48000
    assert caps.duration_control is DurationControl.FITTED
    assert caps.emotion_inputs == {EmotionSource.VOICE, EmotionSource.VECTOR, EmotionSource.TEXT}
    assert EmotionSource.REFERENCE not in caps.emotion_inputs
    assert {"de", "fr", "ja", "ar", "ko", "en", "zh"} <= set(caps.languages)
    assert len(caps.languages) == 30 and caps.prompt_transcript


def test_lines_are_exactly_as_long_as_their_spans(engines):
    engine = engines["random"]
    voice = engine.prepare_voice(_prompt(), 22050)
    durations = [0.9, 1.73, 2.5]
    reqs = [
        _request(engine, "Guten Morgen, wie geht es dir heute?", d, voice=voice, seed=i)
        for i, d in enumerate(durations)
    ]
    heard = []
    results = engine.synthesize(reqs, on_result=lambda i, r: heard.append(i))
    assert heard == [0, 1, 2]  # each handed over as soon as it exists
    for d, res in zip(durations, results, strict=True):
        assert res.ok, res.error
        assert res.sample_rate == 48000
        assert len(res.audio) == samples_for(d, 48000) == res.target_samples
        assert res.audio.dtype == np.float32 and np.isfinite(res.audio).all()
        assert res.fit["method"] in ("natural", "paced", "closest")
        assert 1 <= res.fit["candidates"] <= fit.MAX_CANDIDATES
        assert abs(res.fit["stretch"]) <= fit.STRETCH_LIMIT + 2e-3
        assert res.timings["generate"] > 0


def test_short_takes_ask_for_a_slower_delivery(engines):
    # This stop head stops as soon as allowed: half the slot. The engine asks for slower
    # paces, keeps the closest, stretches it by the limit and pads the rest, and says so.
    engine = engines["always"]
    res = engine.synthesize([_request(engine, "Hallo.", 2.0)])[0]
    assert res.ok and len(res.audio) == samples_for(2.0, 48000)
    assert res.fit["candidates"] >= 2
    assert res.fit["method"] == "closest"
    assert res.fit["pace"] in ("slightly slower", "slow pace", "very slow pace", None)
    assert res.fit["stretch"] == pytest.approx(fit.STRETCH_LIMIT, abs=2e-3)
    assert res.fit["padded_ms"] > 0 and "of its span" in res.flagged
    # The padding is silence at the end.
    tail = res.audio[-int(res.fit["padded_ms"] * 48) + 10 :]
    assert np.abs(tail).max() == 0.0


def test_takes_that_never_stop_are_bounded_and_asked_faster(engines):
    engine = engines["never"]
    res = engine.synthesize([_request(engine, "Das ist ein langer Satz.", 1.2)])[0]
    assert res.ok and len(res.audio) == samples_for(1.2, 48000)
    bounds = fit.step_bounds(samples_for(1.2, 48000), engine.step_samples)
    # No candidate ran past its step bound (1.35x the slot plus one step).
    assert res.tokens <= res.fit["candidates"] * bounds.max_steps
    # Every take ran to the bound, so faster ones were asked (none helped this head).
    assert res.fit["tried"][0] is None and res.fit["candidates"] >= 2
    assert set(res.fit["tried"][1:]) <= {"slightly faster", "fast pace", "very fast pace"}
    assert res.fit["cut_ms"] > 0 and "cut" in res.flagged


def test_natural_mode_renders_one_take_and_free_mode_no_fit(engines):
    engine = engines["always"]
    nat = engine.synthesize([_request(engine, "Hallo.", 2.0, mode=DurationMode.NATURAL)])[0]
    assert nat.fit["candidates"] == 1 and len(nat.audio) == samples_for(2.0, 48000)
    free = engine.synthesize([_request(engine, "Hallo.", None, mode=DurationMode.FREE)])[0]
    assert free.ok and free.fit is None and free.target_samples is None
    assert len(free.audio) % engine.step_samples == 0  # whole decoding steps


def test_emotions_become_style_text(engines, monkeypatch):
    engine = engines["random"]
    seen = []
    real = engine.model.generate_with_prompt_cache

    def spy(*args, **kwargs):
        seen.append(kwargs["target_text"])
        return real(*args, **kwargs)

    monkeypatch.setattr(engine.model, "generate_with_prompt_cache", spy)
    voice = engine.prepare_voice(_prompt(), 22050)
    vector = (0.9, 0, 0, 0, 0, 0, 0.35, 0)
    reqs = [
        _request(engine, "Hallo", None, voice=voice, mode=DurationMode.FREE),
        _request(
            engine,
            "Hallo",
            None,
            voice=voice,
            mode=DurationMode.FREE,
            emotion=EmotionSpec(EmotionSource.VECTOR, vector=vector),
        ),
        _request(
            engine,
            "Hallo",
            None,
            voice=voice,
            mode=DurationMode.FREE,
            emotion=EmotionSpec(EmotionSource.TEXT, text="whispering, tense"),
        ),
    ]
    results = engine.synthesize(reqs)
    assert all(r.ok for r in results)
    assert seen == ["Hallo", "(very happy, surprised)Hallo", "(whispering, tense)Hallo"]
    # A reference clip cannot be put into words: the voice's own delivery, with a note.
    ref = EmotionSpec(EmotionSource.REFERENCE, reference_audio=_prompt(1.0), reference_rate=22050)
    res = engine.synthesize([_request(engine, "Hallo", None, voice=voice, emotion=ref)])[0]
    assert res.ok and seen[-1] == "Hallo" and "reference clip" in res.notes[0]


def test_the_prompt_transcript_makes_a_continuation_clone(engines):
    engine = engines["random"]
    plain = engine.prepare_voice(_prompt(), 22050)
    told = engine.prepare_voice(_prompt(), 22050, transcript="The words of the prompt.")
    assert plain.data.cache["mode"] == "reference"
    assert told.data.cache["mode"] == "ref_continuation"
    assert told.data.cache["prompt_text"] == "The words of the prompt."
    assert plain.key != told.key
    res = engine.synthesize([_request(engine, "Weiter so.", 1.0, voice=told)])[0]
    assert res.ok and len(res.audio) == samples_for(1.0, 48000)


def test_stop_leaves_the_rest_unrendered(engines):
    engine = engines["random"]
    voice = engine.prepare_voice(_prompt(), 22050)
    calls = []

    def stop() -> bool:
        calls.append(1)
        return len(calls) > 1  # after the first line

    reqs = [
        _request(engine, "Eins.", 0.8, voice=voice),
        _request(engine, "Zwei.", 0.8, voice=voice),
    ]
    results = engine.synthesize(reqs, should_stop=stop)
    assert results[0].ok and results[1].error == STOPPED


def test_nothing_reaches_for_a_network(model_dirs, monkeypatch):
    import huggingface_hub

    # The hub on, as on a user's machine: the engine must stay off it by itself.
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.delenv("TRANSFORMERS_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    attempts = []  # recorded: a library that swallows the error still fails the test

    def refuse(*args, **kwargs):
        attempts.append(args[1:] if len(args) > 1 else args)
        raise AssertionError(f"network access attempted: {args[1:] if len(args) > 1 else ''}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", refuse)
    engine = VoxCPM2Engine.load(model_dirs["random"], "cpu")
    assert engine.pipeline.denoiser is None  # no zipenhancer/ folder: no denoiser fetched
    res = engine.synthesize([_request(engine, "Kein Netz.", 0.7)])[0]
    assert res.ok and len(res.audio) == samples_for(0.7, 48000)
    assert attempts == []


def test_identity_names_files_device_and_fit_rules(engines, model_dirs):
    ident = engines["random"].identity
    assert ident.startswith("voxcpm2|") and "|cpu|" in ident and "fit-0.06" in ident
    assert ident != engines["always"].identity  # other weights, other files


def test_missing_and_damaged_folders_are_named(tmp_path, model_dirs):
    with pytest.raises(ModelFilesMissing) as missing:
        VoxCPM2Engine.load(tmp_path, "cpu")
    assert "voxcpm2/config.json" in str(missing.value)
    assert "dubsmith models download voxcpm2" in str(missing.value)

    src = model_dirs["random"] / "voxcpm2"
    bad = tmp_path / "bad" / "voxcpm2"
    bad.mkdir(parents=True)
    for f in src.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    whole = (bad / "model.safetensors").read_bytes()
    (bad / "model.safetensors").write_bytes(whole[: len(whole) // 2])  # cut short
    with pytest.raises(ModelFilesDamaged) as damaged:
        VoxCPM2Engine.load(bad.parent, "cpu")
    assert "voxcpm2/model.safetensors" in str(damaged.value)

    (bad / "model.safetensors").write_bytes(whole)
    config = json.loads((bad / "config.json").read_text())
    config["architecture"] = "voxcpm"
    (bad / "config.json").write_text(json.dumps(config))
    with pytest.raises(ModelFilesDamaged, match="not VoxCPM2"):
        VoxCPM2Engine.load(bad.parent, "cpu")


def test_a_checkpoint_lacking_weights_is_refused(tmp_path, model_dirs):
    from safetensors.torch import load_file, save_file

    src = model_dirs["random"] / "voxcpm2"
    bad = tmp_path / "voxcpm2"
    bad.mkdir()
    for f in src.iterdir():
        (bad / f.name).write_bytes(f.read_bytes())
    weights = load_file(str(bad / "model.safetensors"))
    dropped = sorted(k for k in weights if k.startswith("stop_head"))
    for k in dropped:
        del weights[k]
    save_file(weights, str(bad / "model.safetensors"))
    # The package itself loads leniently (strict=False); the engine does not.
    with pytest.raises(ModelFilesDamaged, match="lacks 1 weight"):
        VoxCPM2Engine.load(tmp_path, "cpu")


def test_a_denoiser_folder_that_cannot_load_is_left_off_and_said(tmp_path, model_dirs, monkeypatch):
    src = model_dirs["random"] / "voxcpm2"
    folder = tmp_path / "voxcpm2"
    folder.mkdir()
    for f in src.iterdir():
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "zipenhancer").mkdir()
    (folder / "zipenhancer" / "configuration.json").write_text("{}")
    monkeypatch.setattr(socket.socket, "connect", lambda *a: pytest.fail("network"))
    engine = VoxCPM2Engine.load(tmp_path, "cpu")
    # modelscope (the denoiser's runtime) is not a dependency: the folder is named, unused.
    assert engine.pipeline.denoiser is None
    assert "zipenhancer" in engine.load_notes[0] and "not used" in engine.load_notes[0]

"""S2M (models.s2m): parity with the official fixtures, strict loading, batching, noise."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from models.parity import load_arrays
from models.s2m import S2M, S2MConfig, mel_frames, mel_spectrogram, official_target_frames
from models.s2m.layers import reflect_pad
from models.s2m.loading import read_s2mel

TOL = 1e-4


@pytest.fixture(autouse=True)
def _one_thread():
    # As the fixtures were made; also keeps this fast on a shared 2-core machine.
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _failures(checks) -> list[str]:
    return [
        f"{c.name}: {c.max_abs_diff:.3g} > {c.tolerance:g} {c.detail}"
        for c in checks
        if not c.passed
    ]


@pytest.fixture(scope="module")
def tiny(reference_dir: Path) -> S2M:
    ck = reference_dir / "checkpoints"
    return S2M.load(ck / "s2mel.pth", ck / "config.yaml")


@pytest.fixture(scope="module")
def e2e_model(reference_dir: Path) -> S2M:
    ck = reference_dir / "e2e" / "checkpoints"
    return S2M.load(ck / "s2mel.pth", ck / "config.yaml")


def test_mel_stage_matches_official(reference_dir: Path) -> None:
    from models.parity import stage_mel

    checks = stage_mel.run(reference_dir)
    assert checks and not _failures(checks)


def test_s2m_stage_matches_official(reference_dir: Path) -> None:
    """gpt_layer, regulator, target lengths, CFM at cfg 0.7/0.0 and every estimator call."""
    from models.parity import stage_s2m

    checks = stage_s2m.run(reference_dir)
    assert len(checks) > 30 and not _failures(checks)


def test_full_size_keys_match_official(reference_dir: Path) -> None:
    from models.parity.keys_s2m import checks

    result = checks(reference_dir)
    names = {c.name for c in result}
    assert {
        "s2mel.cfm",
        "s2mel.length_regulator",
        "s2mel.gpt_layer",
        "bigvgan.weight_norm",
    } <= names
    assert not _failures(result)


def test_e2e_chain_25_steps(reference_dir: Path, e2e_model: S2M) -> None:
    """The e2e run's S2M half (gpt_layer 64 -> 32, 25 steps, cfg 0.7) from its inputs."""
    a = load_arrays(reference_dir, "e2e")
    t = torch.from_numpy
    assert e2e_model.cfg.gpt_layer_dims == (64, 256, 128, 32)
    ref_mel = mel_spectrogram(t(a["spk_audio_22050"]))
    np.testing.assert_allclose(ref_mel.numpy(), a["ref_mel"], atol=TOL)
    np.testing.assert_allclose(
        e2e_model.gpt_latent_to_cond(t(a["gpt_latent"])).numpy(), a["gpt_layer_out"], atol=TOL
    )
    frames = official_target_frames(int(a["code_lens"][0]))
    assert frames == int(a["target_lengths"][0])
    prompt_cond = e2e_model.regulate(t(a["S_ref"]), [ref_mel.size(-1)])
    np.testing.assert_allclose(prompt_cond.numpy(), a["prompt_condition"], atol=TOL)
    cond = e2e_model.regulate(t(a["S_infer"]), [frames])
    np.testing.assert_allclose(cond.numpy(), a["cond"], atol=TOL)
    for prefix in ("", "run2_"):
        cat = t(a[f"{prefix}cat_condition"])
        p = ref_mel.size(-1)
        mels = e2e_model.synthesize(
            cat[:, :p],
            t(a["ref_mel"]),
            t(a["style"]),
            cat[:, p:],
            target_frames=[cat.size(1) - p],
            noise=t(a[f"{prefix}cfm_noise"]),
        )
        np.testing.assert_allclose(mels[0].numpy(), a[f"{prefix}vc_target"][0], atol=TOL)


def _line_inputs(model: S2M, seed: int, prompt_frames: int, target_frames: int):
    g = torch.Generator().manual_seed(seed)
    h = model.cfg.length_regulator.in_channels
    s_ref = torch.randn(1, prompt_frames // 2, h, generator=g)
    s_tgt = torch.randn(1, max(1, target_frames // 2), h, generator=g)
    prompt_cond = model.regulate(s_ref, [prompt_frames])[0]
    target_cond = model.regulate(s_tgt, [target_frames])[0]
    prompt_mel = torch.randn(80, prompt_frames, generator=g) - 5
    style = torch.randn(model.cfg.style_dim, generator=g)
    noise = torch.randn(80, prompt_frames + target_frames, generator=g)
    return prompt_cond, prompt_mel, style, target_cond, noise


@pytest.mark.parametrize("cfg_rate", [0.7, 0.0])
def test_batch_of_different_lengths_equals_each_line_alone(e2e_model: S2M, cfg_rate: float) -> None:
    lines = [
        _line_inputs(e2e_model, 1, 40, 23),
        _line_inputs(e2e_model, 2, 61, 9),
        _line_inputs(e2e_model, 3, 17, 50),
    ]
    cols = list(zip(*lines, strict=True))
    frames = [x.size(0) for x in cols[3]]
    batched = e2e_model.synthesize(
        *cols[:4], target_frames=frames, steps=3, cfg_rate=cfg_rate, noise=list(cols[4])
    )
    assert [m.shape for m in batched] == [(80, f) for f in frames]
    for i, (pc, pm, st_, tc, nz) in enumerate(lines):
        alone = e2e_model.synthesize(
            [pc], [pm], [st_], [tc], steps=3, cfg_rate=cfg_rate, noise=[nz]
        )[0]
        assert torch.isfinite(batched[i]).all()
        torch.testing.assert_close(batched[i], alone, atol=1e-5, rtol=0)


def test_target_frames_trims_condition_and_cfg_changes_result(e2e_model: S2M) -> None:
    pc, pm, st_, tc, nz = _line_inputs(e2e_model, 4, 30, 20)
    short = e2e_model.synthesize([pc], [pm], [st_], [tc], target_frames=[12], steps=2, noise=[nz])[
        0
    ]
    assert short.shape == (80, 12)
    a = e2e_model.synthesize([pc], [pm], [st_], [tc], steps=2, cfg_rate=0.7, noise=[nz])[0]
    b = e2e_model.synthesize([pc], [pm], [st_], [tc], steps=2, cfg_rate=0.0, noise=[nz])[0]
    assert not torch.allclose(a, b)


def test_generator_noise_is_per_row_randn(e2e_model: S2M) -> None:
    """Without noise, row b uses torch.randn([1, 80, P_b + F_b], generator) in row order."""
    l1, l2 = _line_inputs(e2e_model, 5, 20, 10), _line_inputs(e2e_model, 6, 25, 14)
    cols = list(zip(l1, l2, strict=True))
    out = e2e_model.synthesize(*cols[:4], steps=2, generator=torch.Generator().manual_seed(7))
    g = torch.Generator().manual_seed(7)
    noise = [torch.randn([1, 80, 30], generator=g)[0], torch.randn([1, 80, 39], generator=g)[0]]
    ref = e2e_model.synthesize(*cols[:4], steps=2, noise=noise)
    again = e2e_model.synthesize(*cols[:4], steps=2, generator=torch.Generator().manual_seed(7))
    for x, y, z in zip(out, ref, again, strict=True):
        torch.testing.assert_close(x, y, atol=1e-6, rtol=0)
        assert torch.equal(x, z)


def test_mismatched_prompt_lengths_are_refused(e2e_model: S2M) -> None:
    pc, pm, st_, tc, _ = _line_inputs(e2e_model, 8, 20, 10)
    with pytest.raises(ValueError):
        e2e_model.synthesize([pc], [pm[:, :-1]], [st_], [tc], steps=1)


def test_widths_come_from_the_checkpoint(reference_dir: Path) -> None:
    # The e2e checkpoint (gpt_layer 64 -> 32, regulator input 32) under the unit config (1024).
    ck = reference_dir / "e2e" / "checkpoints" / "s2mel.pth"
    model = S2M.load(ck, reference_dir / "checkpoints" / "config.yaml")
    assert model.cfg.gpt_layer_dims[0] == 64 and model.cfg.length_regulator.in_channels == 32
    net = read_s2mel(ck)
    for name in ("cfm", "length_regulator", "gpt_layer"):
        ours = getattr(model, name).state_dict()
        assert ours.keys() == net[name].keys()
        assert all(torch.equal(ours[k], net[name][k]) for k in ours)


@pytest.mark.parametrize("damage", ["drop", "reshape", "extra"])
def test_loading_is_strict(reference_dir: Path, tmp_path: Path, damage: str) -> None:
    ck = reference_dir / "checkpoints"
    net = read_s2mel(ck / "s2mel.pth")
    key = "estimator.cond_projection.bias"
    if damage == "drop":
        del net["cfm"][key]
    elif damage == "reshape":
        net["cfm"][key] = torch.zeros(net["cfm"][key].numel() + 1)
    else:
        net["cfm"]["estimator.surprise"] = torch.zeros(1)
    bad = tmp_path / "s2mel.pth"
    torch.save({"net": net}, bad)
    with pytest.raises(RuntimeError):
        S2M.load(bad, ck / "config.yaml")


def test_unsupported_options_are_refused(reference_dir: Path) -> None:
    import yaml

    cfg = yaml.safe_load((reference_dir / "keys" / "config.yaml").read_text())
    S2MConfig.from_dict(cfg)
    cfg["s2mel"]["DiT"]["time_as_token"] = True
    with pytest.raises(NotImplementedError):
        S2MConfig.from_dict(cfg)


def test_config_reads_the_official_sizes(reference_dir: Path) -> None:
    cfg = S2MConfig.from_yaml(reference_dir / "keys" / "config.yaml")
    assert (cfg.dit.hidden_dim, cfg.dit.depth, cfg.wavenet.num_layers) == (512, 13, 8)
    assert cfg.mel.fmax is None and cfg.mel.sampling_rate == 22050
    assert dataclasses.replace(cfg).dit.block_size == 16384


@settings(max_examples=25, deadline=None)
@given(n=st.integers(min_value=1100, max_value=6000))
def test_mel_frame_count(n: int) -> None:
    wave = torch.zeros(1, n).uniform_(-0.5, 0.5)
    assert mel_spectrogram(wave).shape == (1, 80, mel_frames(n))


@settings(max_examples=40, deadline=None)
@given(
    lengths=st.lists(st.integers(min_value=4, max_value=20), min_size=1, max_size=4),
    left=st.integers(min_value=0, max_value=3),
    right=st.integers(min_value=0, max_value=3),
)
def test_reflect_pad_per_row_equals_row_alone(lengths: list[int], left: int, right: int) -> None:
    T = max(lengths)
    x = torch.randn(len(lengths), 3, T)
    padded = reflect_pad(x, left, right, torch.tensor(lengths))
    for b, n in enumerate(lengths):
        alone = F.pad(x[b : b + 1, :, :n], (left, right), mode="reflect")
        assert torch.equal(padded[b : b + 1, :, : n + left + right], alone)


def test_loads_from_a_model_dir(tiny_model_dir: Path, reference_dir: Path) -> None:
    d = tiny_model_dir / "indextts2"
    model = S2M.load(d / "s2mel.pth", d / "config.yaml")
    a = load_arrays(reference_dir, "e2e")
    out = model.gpt_latent_to_cond(torch.from_numpy(a["gpt_latent"]))
    np.testing.assert_allclose(out.numpy(), a["gpt_layer_out"], atol=TOL)

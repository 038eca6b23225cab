"""Parity of S2M (models.s2m) with the official outputs in DIR/s2m/: gpt_layer, the length
regulator (prompt and target), the target length rule, the concatenated condition, and
CFM.inference at cfg 0.7 and 0.0 with the injected noise, including every estimator call of
every Euler step and the sliced target mel (also through the batched S2M.synthesize API)."""

from __future__ import annotations

from pathlib import Path

import torch

from models.parity import Check, compare, load_arrays
from models.s2m import S2M, official_target_frames

STAGE = "s2m"
STEPS = 4  # what the fixtures ran


def _t(a) -> torch.Tensor:
    return torch.from_numpy(a)


def run(root: Path) -> list[Check]:
    root = Path(root)
    a = load_arrays(root, "s2m")
    ck = root / "checkpoints"
    s2m = S2M.load(ck / "s2mel.pth", ck / "config.yaml")
    checks: list[Check] = []

    checks.append(
        compare(
            STAGE,
            "gpt_layer_out",
            s2m.gpt_latent_to_cond(_t(a["gpt_latent_1280"])),
            a["gpt_layer_out"],
        )
    )

    ref_mel = _t(a["ref_mel"])
    prompt_frames = ref_mel.size(-1)
    prompt_cond = s2m.regulate(_t(a["S_ref"]), [prompt_frames])
    checks.append(compare(STAGE, "prompt_condition", prompt_cond, a["prompt_condition"]))
    checks.append(
        compare(STAGE, "prompt_olens", torch.tensor([prompt_cond.size(1)]), a["prompt_olens"])
    )

    n_codes = a["codes"].shape[1]
    target = official_target_frames(n_codes)
    checks.append(compare(STAGE, "target_lengths", torch.tensor([target]), a["target_lengths"]))
    cond = s2m.regulate(_t(a["S_infer"]), [target])
    checks.append(compare(STAGE, "cond", cond, a["cond"]))
    checks.append(compare(STAGE, "cond_olens", torch.tensor([cond.size(1)]), a["cond_olens"]))
    cat = torch.cat([prompt_cond, cond], dim=1)
    checks.append(compare(STAGE, "cat_condition", cat, a["cat_condition"]))

    style = _t(a["style"])
    noise = _t(a["cfm_noise"])
    for tag, rate in (("cfg0.7", 0.7), ("cfg0", 0.0)):
        calls: list[tuple] = []

        def record(_mod, args, out, calls=calls):
            calls.append(tuple(x.detach().clone() for x in args) + (out.detach().clone(),))

        handle = s2m.cfm.estimator.register_forward_hook(record)
        try:
            full = s2m.cfm.sample(
                _t(a["cat_condition"]),
                torch.tensor([cat.size(1)]),
                ref_mel,
                torch.tensor([prompt_frames]),
                style,
                noise.clone(),
                steps=STEPS,
                cfg_rate=rate,
            )
        finally:
            handle.remove()
        checks.append(compare(STAGE, f"mel_full_{tag}", full, a[f"mel_full_{tag}"]))
        checks.append(
            compare(STAGE, f"mel_target_{tag}", full[:, :, prompt_frames:], a[f"mel_target_{tag}"])
        )
        if len(calls) != STEPS:
            checks.append(
                Check(
                    STAGE,
                    f"est_{tag}_calls",
                    float("inf"),
                    0.0,
                    False,
                    f"{len(calls)} estimator calls",
                )
            )
            continue
        x0, prompt_x, _lens, _t0, _style, mu, _ = calls[0]
        checks.append(compare(STAGE, f"est_{tag}_prompt_x", prompt_x, a[f"est_{tag}_prompt_x"]))
        checks.append(compare(STAGE, f"est_{tag}_cond", mu, a[f"est_{tag}_cond"]))
        for i, (x, _p, _l, t, _s, _m, out) in enumerate(calls):
            checks.append(compare(STAGE, f"est_{tag}_x_step{i}", x, a[f"est_{tag}_x_step{i}"]))
            checks.append(compare(STAGE, f"est_{tag}_t_step{i}", t, a[f"est_{tag}_t_step{i}"]))
            checks.append(
                compare(STAGE, f"est_{tag}_out_step{i}", out, a[f"est_{tag}_out_step{i}"])
            )

        # The engine-facing batched API must give the same target mel.
        mels = s2m.synthesize(
            prompt_cond,
            ref_mel,
            style,
            cond,
            target_frames=[target],
            steps=STEPS,
            cfg_rate=rate,
            noise=noise,
        )
        checks.append(compare(STAGE, f"synthesize_{tag}", mels[0][None], a[f"mel_target_{tag}"]))
    return checks

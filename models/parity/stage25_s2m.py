"""Stage `s2m` of the 2.5 set: the prompt condition from continuous w2v features, the
codec's decode of the codes (no GPT latent), the frame rule int(2N * 1.72 * duration_factor)
at factors 1.0 and 0.8, the regulated and concatenated condition, and CFM (4 steps, cfg 0.7,
injected noise) with its sliced target mel; also through the batched S2M.synthesize."""

from __future__ import annotations

from pathlib import Path

import torch

from models.config import load_config
from models.indextts25.codec import EnhancedCodec
from models.indextts25.duration import release_frames
from models.parity import Check, compare, load_arrays
from models.s2m import S2M

STAGE = "s2m"
STEPS = 4


def run(root: Path) -> list[Check]:
    root = Path(root)
    a = load_arrays(root, STAGE)
    ck = root / "checkpoints"
    s2m = S2M.load(ck / "s2mel.pth", ck / "config.yaml")
    codec = EnhancedCodec.load(
        ck / "codec.pth", load_config(ck / "config.yaml").raw["semantic_codec"]
    )
    t = torch.from_numpy
    ref_mel, style = t(a["ref_mel"]), t(a["style"])
    prompt_frames = ref_mel.shape[-1]
    prompt_cond = s2m.regulate(t(a["prompt_feat"]), [prompt_frames])
    checks: list[Check] = [
        compare(STAGE, "prompt_condition", prompt_cond, a["prompt_condition"]),
        compare(STAGE, "prompt_olens", torch.tensor([prompt_cond.shape[1]]), a["prompt_olens"]),
    ]
    codes = t(a["codes"])
    s_infer = codec.decode(codes)
    checks.append(compare(STAGE, "S_infer", s_infer, a["S_infer"]))
    for df, tag in ((1.0, "df1"), (0.8, "df0.8")):
        frames = release_frames(codes.shape[1], df)
        checks.append(
            compare(
                STAGE, f"target_lengths_{tag}", torch.tensor([frames]), a[f"target_lengths_{tag}"]
            )
        )
        cond = s2m.regulate(t(a["S_infer"]), [frames])
        checks.append(compare(STAGE, f"cond_{tag}", cond, a[f"cond_{tag}"]))
        cat = torch.cat([prompt_cond, cond], dim=1)
        checks.append(compare(STAGE, f"cat_condition_{tag}", cat, a[f"cat_condition_{tag}"]))
        noise = t(a[f"cfm_noise_{tag}"])
        full = s2m.cfm.sample(
            t(a[f"cat_condition_{tag}"]),
            torch.tensor([cat.shape[1]]),
            ref_mel,
            torch.tensor([prompt_frames]),
            style,
            noise.clone(),
            steps=STEPS,
            cfg_rate=0.7,
        )
        checks.append(compare(STAGE, f"mel_full_{tag}", full, a[f"mel_full_{tag}"]))
        checks.append(
            compare(STAGE, f"mel_target_{tag}", full[:, :, prompt_frames:], a[f"mel_target_{tag}"])
        )
        (mel,) = s2m.synthesize(
            [t(a["prompt_condition"])[0]],
            [ref_mel[0]],
            [style[0]],
            [t(a[f"cond_{tag}"])[0]],
            steps=STEPS,
            cfg_rate=0.7,
            noise=[noise[0]],
        )
        checks.append(compare(STAGE, f"synthesize_{tag}", mel[None], a[f"mel_target_{tag}"]))
    return checks

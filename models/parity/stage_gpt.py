"""Parity of T2S (models/t2s) with the reference gpt/ folder (tiny checkpoints/gpt.pth)."""

from __future__ import annotations

from pathlib import Path

import torch

from models.config import load_config
from models.contract import Sampling
from models.parity import Check, compare, exact, load_arrays
from models.t2s import T2S, decode, latents

STAGE = "gpt"


def run(root: Path) -> list[Check]:
    root = Path(root)
    a = load_arrays(root, "gpt")
    cfg = load_config(root / "checkpoints" / "config.yaml").gpt
    model = T2S.load(root / "checkpoints" / "gpt.pth", cfg)
    spk = torch.from_numpy(a["spk_cond_emb"])
    emo = torch.from_numpy(a["emo_cond_emb"])
    text = torch.from_numpy(a["text_tokens"]).long()[0]
    checks: list[Check] = []
    with torch.inference_mode():
        spk_lat = model.speaker_latents(spk)
        checks.append(compare(STAGE, "spk_cond_latent", spk_lat, a["spk_cond_latent"]))
        truelen = model.speaker_latents(spk, torch.tensor([spk.shape[1]]))
        checks.append(
            compare(STAGE, "spk_cond_latent_truelen", truelen, a["spk_cond_latent_truelen"])
        )
        checks.append(
            compare(
                STAGE, "emo_perceiver_spk", model.emotion_perceiver(spk), a["emo_perceiver_spk"]
            )
        )
        checks.append(
            compare(
                STAGE, "emo_perceiver_emo", model.emotion_perceiver(emo), a["emo_perceiver_emo"]
            )
        )
        checks.append(compare(STAGE, "emovec_spk", model.emotion_vector(spk), a["emovec_spk"]))
        checks.append(compare(STAGE, "emovec_emo", model.emotion_vector(emo), a["emovec_emo"]))
        merged = model.merge_emovec(spk, emo, alpha=1.0)
        checks.append(compare(STAGE, "emovec_merged_a1.0", merged, a["emovec_merged_a1.0"]))
        checks.append(
            compare(
                STAGE,
                "emovec_merged_a0.6",
                model.merge_emovec(spk, emo, 0.6),
                a["emovec_merged_a0.6"],
            )
        )
        conds = model.conds(spk_lat, merged)
        checks.append(compare(STAGE, "conds_latent", conds, a["conds_latent"]))
        prompt = torch.cat((conds[0], model.text_embedding_sequence(text)))
        checks.append(compare(STAGE, "gpt_inputs_embeds", prompt[None], a["gpt_inputs_embeds"]))
    for rep, tag in ((1.0, "rep1"), (10.0, "rep10")):
        settings = Sampling(
            do_sample=False, repetition_penalty=rep, max_tokens=40, suppress_start=False
        )
        (out,) = decode(model, [conds[0]], [text], settings, record_scores=True)
        expected_codes = a[f"codes_{tag}"][0]
        got = out.codes.tolist() + ([cfg.stop_mel_token] if out.stopped else [])
        checks.append(compare(STAGE, f"codes_{tag}", torch.tensor(got)[None], a[f"codes_{tag}"]))
        trimmed = a[f"codes_trimmed_{tag}"]
        checks.append(compare(STAGE, f"codes_trimmed_{tag}", out.codes[None], trimmed))
        checks.append(
            exact(
                STAGE,
                f"stopped_{tag}",
                out.stopped == (cfg.stop_mel_token in expected_codes.tolist()),
            )
        )
        checks.append(compare(STAGE, f"scores_{tag}", out.scores[None], a[f"scores_{tag}"]))
        (lat,) = latents(model, [conds[0]], [text], [torch.from_numpy(trimmed[0])])
        checks.append(compare(STAGE, f"latent_{tag}", lat[None], a[f"latent_{tag}"]))
    checks.extend(_batch_checks(model, conds[0], text, a))
    return checks


def _batch_checks(model: T2S, conds, text, a) -> list[Check]:
    """Batched decoding (different texts and voices) equals one-at-a-time decoding."""
    g = torch.Generator().manual_seed(7)
    other_conds = conds + 0.05 * torch.randn(conds.shape, generator=g)
    texts = [text, text[:9], torch.cat((text[3:], text[:5]))]
    cond_list = [conds, other_conds, conds]
    checks = []
    for settings, name in (
        (Sampling(do_sample=False, repetition_penalty=10.0, max_tokens=40), "greedy"),
        (Sampling(max_tokens=40), "sample"),
        (Sampling(num_beams=3, max_tokens=40), "beam_sample"),
    ):
        batched = decode(model, cond_list, texts, settings, seeds=[1, 2, 3])
        single = [
            decode(model, [c], [t], settings, seeds=[s])[0]
            for c, t, s in zip(cond_list, texts, [1, 2, 3], strict=True)
        ]
        same = all(torch.equal(b.codes, s.codes) for b, s in zip(batched, single, strict=True))
        checks.append(exact(STAGE, f"batched_equals_single_{name}", same))
    lat_b = latents(model, cond_list, texts, [d.codes for d in batched])
    lat_s = [
        latents(model, [c], [t], [d.codes])[0]
        for c, t, d in zip(cond_list, texts, batched, strict=True)
    ]
    worst = max(float((x - y).abs().max()) for x, y in zip(lat_b, lat_s, strict=True))
    checks.append(Check(STAGE, "batched_latents_equal_single", worst, 1e-4, worst <= 1e-4))
    return checks

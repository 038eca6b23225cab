"""Stage `gpt` of the 2.5 set: the campplus-mode GPT (models.indextts25.gpt) against
DIR/gpt/: speaker projection, language row, emotion vectors, the 3-row conds, the prompt
embeddings with the language row, and greedy codes with their per-step processed scores at
repetition penalty 1 and 10 and in another language."""

from __future__ import annotations

from pathlib import Path

import torch

from models.config import load_config
from models.contract import Sampling
from models.indextts25.gpt import T2S25, with_language
from models.parity import Check, compare, exact, load_arrays
from models.t2s import decode
from models.voice import official_lengths

STAGE = "gpt"


def run(root: Path) -> list[Check]:
    root = Path(root)
    a = load_arrays(root, "gpt")
    cfg = load_config(root / "checkpoints" / "config.yaml").gpt
    model = T2S25.load(root / "checkpoints" / "gpt.pth", cfg)
    spk = torch.from_numpy(a["spk_cond_emb"])
    emo = torch.from_numpy(a["emo_cond_emb"])
    style = torch.from_numpy(a["style"])
    text = torch.from_numpy(a["text_tokens"]).long()[0]
    langs = {"": int(a["lang"][0]), "_otherlang": int(a["lang_other"][0])}
    spk_len, emo_len = official_lengths(spk), official_lengths(emo)
    checks: list[Check] = []
    with torch.inference_mode():
        checks.append(compare(STAGE, "spk_emb_proj", model.speaker_row(style), a["spk_emb_proj"]))
        checks.append(
            compare(STAGE, "lang_emb_row", model.language_row(langs[""]), a["lang_emb_row"])
        )
        checks.append(
            compare(
                STAGE,
                "emo_perceiver_emo",
                model.emotion_perceiver(emo, emo_len),
                a["emo_perceiver_emo"],
            )
        )
        checks.append(
            compare(STAGE, "emovec_spk", model.emotion_vector(spk, spk_len), a["emovec_spk"])
        )
        checks.append(
            compare(STAGE, "emovec_emo", model.emotion_vector(emo, emo_len), a["emovec_emo"])
        )
        merged = {}
        for alpha in (1.0, 0.6):
            merged[alpha] = model.merge_emovec(spk, emo, alpha, spk_len, emo_len)
            checks.append(
                compare(
                    STAGE, f"emovec_merged_a{alpha}", merged[alpha], a[f"emovec_merged_a{alpha}"]
                )
            )
        conds = model.conds25(style, merged[1.0])
        checks.append(compare(STAGE, "conds_latent", conds, a["conds_latent"]))
        checks.append(
            compare(
                STAGE,
                "speech_conditioning_latent",
                model.speaker_row(style)[None],
                a["speech_conditioning_latent"],
            )
        )
        for suffix, lang_id in langs.items():
            # The official prompt has one masked zero row on the left (the explicit stop id
            # infer appends is dropped, so the text is one shorter than its tensor).
            seq = model.text_embedding_sequence25(text, lang_id)
            pad = text.numel() + 2 - seq.shape[0]
            prompt = torch.cat((conds.new_zeros(pad, conds.shape[-1]), conds[0], seq))
            checks.append(
                compare(
                    STAGE,
                    f"gpt_inputs_embeds{suffix}",
                    prompt[None],
                    a[f"gpt_inputs_embeds{suffix}"],
                )
            )
            mask = torch.ones(1, prompt.shape[0] + 1, dtype=torch.long)
            mask[0, :pad] = 0
            checks.append(
                compare(
                    STAGE, f"gpt_attention_mask{suffix}", mask, a[f"gpt_attention_mask{suffix}"]
                )
            )
    runs = [("rep1", 1.0, ""), ("rep10", 10.0, ""), ("rep10_otherlang", 10.0, "_otherlang")]
    for tag, rep, suffix in runs:
        settings = Sampling(
            do_sample=False, repetition_penalty=rep, max_tokens=40, suppress_start=False
        )
        speaking = with_language(model, langs[suffix])
        (out,) = decode(speaking, [conds[0]], [text], settings, record_scores=True)
        expected = a[f"codes_{tag}"][0].tolist()
        got = out.codes.tolist() + ([cfg.stop_mel_token] if out.stopped else [])
        checks.append(compare(STAGE, f"codes_{tag}", torch.tensor(got)[None], a[f"codes_{tag}"]))
        trimmed = a[f"codes_trimmed_{tag}"]
        checks.append(compare(STAGE, f"codes_trimmed_{tag}", out.codes[None], trimmed))
        checks.append(
            exact(STAGE, f"stopped_{tag}", out.stopped == (cfg.stop_mel_token in expected))
        )
        checks.append(compare(STAGE, f"scores_{tag}", out.scores[None], a[f"scores_{tag}"]))
    return checks

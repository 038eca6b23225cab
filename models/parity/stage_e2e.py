"""Stage `e2e`: one segment through the whole engine against the official `IndexTTS2.infer`
recorded in DIR/e2e (checkpoints from DIR/e2e/checkpoints, plus w2v-BERT, CAMPPlus and
BigVGAN from DIR/checkpoints).

The engine's own code paths run: voice preparation from the 24 kHz prompt (resampling,
features, codes, style, reference mel, prompt condition, latents, emotion vector), a job
with the recorded text ids (the official run used a pass-through normaliser), greedy codes
(top_k=1 sampling is the argmax; repetition penalty 10; the official code does not forbid
the start code, so neither does this run), GPT latent, S2M with the recorded CFM noise,
BigVGAN and the int16 output. Run 2 repeats it with an 8-weight emotion vector at alpha 0.6.

Tolerances: 1e-4 for every float array, the CFM mel (25 Euler steps) and BigVGAN wave
included (observed: under 1e-6); codes, code counts and target lengths exactly; the int16
output within 1 LSB (the official float->int16 truncation flips at a few samples when the
last float bits differ, as the README reports for 1 vs 2 threads); wav_clamped, in int16
units, within 0.05.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from models.contract import DurationMode, EmotionSource, EmotionSpec, Sampling, SynthesisRequest
from models.emotion import nearest_rows
from models.indextts2.engine import IndexTTS2Engine
from models.indextts2.parts import Job
from models.layout import IndexTTS2Files
from models.parity import Check, compare, exact, load_arrays, waveform_checks
from models.speaker import kaldi_fbank

STAGE = "e2e"
MEL_TOL = 1e-4  # after 25 CFM steps


def e2e_files(root: Path) -> IndexTTS2Files:
    e2e, ck = root / "e2e" / "checkpoints", root / "checkpoints"
    return IndexTTS2Files.in_folder(
        e2e,
        w2v_bert=ck / "w2v-bert-2.0",
        semantic_codec=e2e / "semantic_codec" / "model.safetensors",
        campplus=ck / "campplus_cn_common.bin",
        bigvgan=ck / "bigvgan",
    )


def run(root: Path) -> list[Check]:
    root = Path(root)
    a = load_arrays(root, STAGE)
    manifest = json.loads((root / STAGE / "manifest.json").read_text(encoding="utf-8"))
    engine = IndexTTS2Engine.from_files(e2e_files(root), normalize_text=False)
    p = engine.parts
    checks: list[Check] = []

    # ---- the voice ------------------------------------------------------------------------
    handle = engine.prepare_voice(a["prompt_native"], int(manifest["prompt_sr"]))
    v = handle.data
    checks.append(compare(STAGE, "spk_audio_22050", v.audio_22k[None], a["spk_audio_22050"]))
    checks.append(compare(STAGE, "audio_16k", v.audio_16k[None], a["audio_16k"]))
    checks.append(compare(STAGE, "emo_audio_16000", v.emo_audio_16k[None], a["emo_audio_16000"]))
    feats, mask, _ = p.semantic.extract(v.audio_16k)
    checks.append(compare(STAGE, "spk_input_features", feats, a["spk_input_features"]))
    checks.append(compare(STAGE, "spk_attention_mask", mask, a["spk_attention_mask"]))
    checks.append(
        compare(STAGE, "spk_hidden17_raw", p.semantic.hidden17(feats, mask), a["spk_hidden17_raw"])
    )
    checks.append(compare(STAGE, "spk_cond_emb", v.spk_feats, a["spk_cond_emb"]))
    checks.append(compare(STAGE, "S_ref_codes", v.codes, a["S_ref_codes"]))
    checks.append(compare(STAGE, "S_ref", v.s_ref, a["S_ref"]))
    checks.append(compare(STAGE, "ref_mel", v.ref_mel, a["ref_mel"]))
    checks.append(
        compare(STAGE, "fbank_raw", kaldi_fbank(v.audio_16k, subtract_mean=False), a["fbank_raw"])
    )
    checks.append(compare(STAGE, "fbank_meansub", kaldi_fbank(v.audio_16k), a["fbank_meansub"]))
    checks.append(compare(STAGE, "style", v.style, a["style"]))
    checks.append(compare(STAGE, "prompt_condition", v.prompt_cond[None], a["prompt_condition"]))
    checks.append(
        compare(STAGE, "emo_cond_emb", p.semantic(v.emo_audio_16k).feats, a["emo_cond_emb"])
    )
    checks.append(compare(STAGE, "spk_cond_latent", v.spk_latents, a["spk_cond_latent"]))
    checks.append(compare(STAGE, "emovec_merged", v.own_emovec, a["emovec_merged"]))

    # ---- text ------------------------------------------------------------------------------
    ids = [int(x) for x in a["text_tokens"][0]]
    ours = p.text.encode(manifest["text"]).ids
    checks.append(
        exact(STAGE, "text_tokens (front-end, no normaliser)", ours == ids, f"{ours} vs {ids}")
    )

    # ---- run 1 (the voice's own emotion) and run 2 (emotion vector, alpha 0.6) ------------
    sampling = Sampling(
        do_sample=False,
        top_k=1,
        repetition_penalty=10.0,
        num_beams=1,
        max_tokens=int(manifest["call_run1"]["generation_kwargs"]["max_mel_tokens"]),
        diffusion_steps=int(manifest["diffusion_steps"]),
        cfg_rate=float(manifest["inference_cfg_rate"]),
    )
    runs = (
        ("", EmotionSpec()),
        (
            "run2_",
            EmotionSpec(
                EmotionSource.VECTOR,
                vector=tuple(manifest["call_run2"]["same as run1 except"]["emo_vector"]),
                alpha=float(manifest["call_run2"]["same as run1 except"]["emo_alpha"]),
            ),
        ),
    )
    for prefix, emotion in runs:
        req = SynthesisRequest(
            manifest["text"], handle, emotion, None, DurationMode.FREE, sampling, seed=0
        )
        job = engine.make_job(0, req)
        job.segments = [ids]
        job.token_targets = [None]
        job.decode = dataclasses.replace(job.decode, suppress_start=False)
        job.noise = torch.from_numpy(a[prefix + "cfm_noise"][0])
        job.trace = {}
        engine.render_jobs([job])
        checks.extend(_run_checks(engine, job, a, prefix))
    return checks


def _run_checks(engine: IndexTTS2Engine, job: Job, a: dict, pre: str) -> list[Check]:
    name = (pre or "run1_") + "{}"
    if job.error is not None:
        return [exact(STAGE, name.format("render"), False, job.error)]
    p, t, v = engine.parts, job.trace, job.voice
    cfg = p.cfg.gpt
    out: list[Check] = []
    if pre:
        out.append(
            compare(
                STAGE,
                name.format("emo_random_index"),
                np.array(nearest_rows(v.style, p.emotion_mats)),
                a[pre + "emo_random_index"],
            )
        )
        out.append(
            compare(STAGE, name.format("emovec_merged"), v.own_emovec, a[pre + "emovec_merged"])
        )
        out.append(
            compare(
                STAGE, name.format("spk_cond_latent"), v.spk_latents, a[pre + "spk_cond_latent"]
            )
        )
    out.append(compare(STAGE, name.format("emo_vec_used"), job.emovec, a[pre + "emo_vec_used"]))
    conds = t["conds"][0]
    out.append(compare(STAGE, name.format("conds_latent"), conds[None], a[pre + "conds_latent"]))
    ids = torch.tensor(job.segments[0])
    embeds = torch.cat((conds, p.t2s.text_embedding_sequence(ids)))
    out.append(
        compare(STAGE, name.format("gpt_inputs_embeds"), embeds[None], a[pre + "gpt_inputs_embeds"])
    )

    codes = t["codes"][0]
    out.append(compare(STAGE, name.format("codes"), codes[None], a[pre + "codes"]))
    raw = a[pre + "codes_raw"][0]
    stops = np.flatnonzero(raw == cfg.stop_mel_token)
    cut = int(stops[0]) if stops.size else raw.size
    out.append(
        exact(
            STAGE,
            name.format("codes cut at the first stop"),
            codes.numel() == cut,
            f"{codes.numel()} codes, the official run kept {cut}",
        )
    )
    out.append(
        compare(STAGE, name.format("gpt_latent"), t["latents"][0][None], a[pre + "gpt_latent"])
    )
    out.append(
        compare(STAGE, name.format("gpt_layer_out"), t["gpt_layer"][0], a[pre + "gpt_layer_out"])
    )
    out.append(
        compare(STAGE, name.format("S_infer_vq2emb"), t["vq2emb"][0], a[pre + "S_infer_vq2emb"])
    )
    out.append(compare(STAGE, name.format("S_infer"), t["s_infer"][0], a[pre + "S_infer"]))
    out.append(
        compare(
            STAGE,
            name.format("target_lengths"),
            np.array(job.seg_frames),
            a[pre + "target_lengths"],
        )
    )
    out.append(compare(STAGE, name.format("cond"), t["cond"][0][None], a[pre + "cond"]))
    cat = torch.cat((v.prompt_cond, t["target_cond"]))[None]
    out.append(compare(STAGE, name.format("cat_condition"), cat, a[pre + "cat_condition"]))
    mel = t["mel"][None]
    out.append(compare(STAGE, name.format("vc_target"), mel, a[pre + "vc_target"], MEL_TOL))
    prompt_frames = v.prompt_frames
    full = a[pre + "cfm_out_full"]
    out.append(
        compare(
            STAGE,
            name.format("cfm_out_full (prompt frames zero, target = vc_target)"),
            torch.cat((torch.zeros(1, mel.shape[1], prompt_frames), mel), dim=-1),
            full,
            MEL_TOL,
        )
    )
    out += waveform_checks(STAGE, name, t["wave"], a, pre, job.audio)
    return out

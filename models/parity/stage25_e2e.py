"""Stage `e2e` of the 2.5 set: the IndexTTS-2.5 engine's own code paths against the two
official `infer()` calls of DIR/e2e (checkpoints: DIR/checkpoints, text normalisation on).

Run 1: zh, the voice's own emotion, duration factor 1.0. Run 2: en, an 8-weight emotion
vector at alpha 0.6, duration factor 0.8. Each: voice preparation from the 24 kHz prompt,
the front-end's ids, the 3-row conds and the prompt embeddings with the language row,
greedy codes (top_k=1 sampling is the argmax; the release does not forbid the start code,
so neither does this run), codec.decode, the release's frame rule, the regulated condition,
CFM with the recorded noise, BigVGAN, and the int16 output within 1 LSB.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from models.contract import DurationMode, EmotionSource, EmotionSpec, Sampling, SynthesisRequest
from models.emotion import nearest_rows
from models.indextts25.engine import IndexTTS25Engine, Job25
from models.indextts25.files import locate25
from models.parity import Check, compare, exact, load_arrays, waveform_checks
from models.speaker import kaldi_fbank

STAGE = "e2e"
MEL_TOL = 1e-4


def run(root: Path) -> list[Check]:
    root = Path(root)
    a = load_arrays(root, STAGE)
    manifest = json.loads((root / STAGE / "manifest.json").read_text(encoding="utf-8"))
    engine = IndexTTS25Engine.from_files(locate25(root / "checkpoints"))
    p = engine.parts
    import soundfile

    prompt, rate = soundfile.read(root / STAGE / "prompt.wav", dtype="float32")
    checks: list[Check] = [compare(STAGE, "prompt_native", prompt, a["prompt_native"])]
    handle = engine.prepare_voice(a["prompt_native"], rate)
    v = handle.data
    checks += [
        compare(STAGE, "spk_audio_22050", v.audio_22k[None], a["spk_audio_22050"]),
        compare(STAGE, "audio_16k", v.audio_16k[None], a["audio_16k"]),
        compare(STAGE, "emo_audio_16000", v.emo_audio_16k[None], a["emo_audio_16000"]),
        compare(STAGE, "spk_cond_emb", v.spk_feats, a["spk_cond_emb"]),
        compare(STAGE, "ref_mel", v.ref_mel, a["ref_mel"]),
        compare(STAGE, "fbank_meansub", kaldi_fbank(v.audio_16k), a["fbank_meansub"]),
        compare(STAGE, "style", v.style, a["style"]),
        compare(STAGE, "prompt_condition", v.prompt_cond[None], a["prompt_condition"]),
        compare(STAGE, "emo_cond_emb", p.semantic(v.emo_audio_16k).feats, a["emo_cond_emb"]),
        compare(STAGE, "emovec_merged", v.own_emovec, a["emovec_merged"]),
    ]
    for pre, call in (("", manifest["call_run1"]), ("run2_", manifest["call_run2"])):
        gen = call["generation_kwargs"]
        sampling = Sampling(
            do_sample=False,
            top_k=1,
            repetition_penalty=10.0,
            num_beams=int(gen["num_beams"]),
            max_tokens=int(gen["max_mel_tokens"]),
            diffusion_steps=int(manifest["diffusion_steps"]),
            cfg_rate=float(manifest["inference_cfg_rate"]),
        )
        emotion = EmotionSpec()
        if call["emo_vector"] is not None:
            emotion = EmotionSpec(
                EmotionSource.VECTOR, vector=tuple(call["emo_vector"]), alpha=call["emo_alpha"]
            )
        req = SynthesisRequest(
            call["text"], handle, emotion, None, DurationMode.FREE, sampling, language=call["lang"]
        )
        job = engine.make_job(0, req)
        job.decode = job.decode.__class__(**{**job.decode.__dict__, "suppress_start": False})
        job.duration_factor = float(call["duration_factor"])
        job.noise = torch.from_numpy(a[pre + "cfm_noise"][0])
        job.trace = {}
        engine.render_jobs([job])
        checks += _run_checks(engine, job, a, pre)
    return checks


def _run_checks(engine: IndexTTS25Engine, job: Job25, a: dict, pre: str) -> list[Check]:
    name = (pre or "run1_") + "{}"
    if job.error is not None:
        return [exact(STAGE, name.format("render"), False, job.error)]
    p, t, v = engine.parts, job.trace, job.voice
    ids = a[pre + "text_tokens"][0].tolist()
    out = [
        exact(
            STAGE, name.format("text_tokens"), job.segments == [ids], f"{job.segments} vs {[ids]}"
        ),
        compare(STAGE, name.format("lang_id"), np.array([job.lang_id]), a[pre + "lang_id"]),
        compare(STAGE, name.format("emo_vec_used"), job.emovec, a[pre + "emo_vec_used"]),
        compare(
            STAGE, name.format("spk_emb_proj"), p.t2s.speaker_row(v.style), a[pre + "spk_emb_proj"]
        ),
    ]
    if pre:
        out.append(
            compare(
                STAGE,
                name.format("emo_random_index"),
                np.array(nearest_rows(v.style, p.emotion_mats)),
                a[pre + "emo_random_index"],
            )
        )
    conds = t["conds"]
    out.append(compare(STAGE, name.format("conds_latent"), conds[None], a[pre + "conds_latent"]))
    text = torch.tensor(job.segments[0])
    seq = p.t2s.text_embedding_sequence25(text, job.lang_id)
    pad = text.numel() + 2 - seq.shape[0]
    embeds = torch.cat((conds.new_zeros(pad, conds.shape[-1]), conds, seq))
    out.append(
        compare(STAGE, name.format("gpt_inputs_embeds"), embeds[None], a[pre + "gpt_inputs_embeds"])
    )
    codes = t["codes"][0]
    out.append(compare(STAGE, name.format("codes"), codes[None], a[pre + "codes"]))
    out.append(
        compare(
            STAGE,
            name.format("S_infer_vq2emb"),
            p.codec.vq2emb(codes[None]),
            a[pre + "S_infer_vq2emb"],
        )
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
    out.append(
        compare(STAGE, name.format("vc_target"), t["mel"][None], a[pre + "vc_target"], MEL_TOL)
    )
    out += waveform_checks(STAGE, name, t["wave"], a, pre, job.audio)
    return out

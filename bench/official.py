"""Issue 13, the official side: the official IndexTTS2 code (index-tts/index-tts at
ee40fa7d) timed on the issue's lines, to set beside bench/engine.py --issue-table.

Runs with the separate venv of bench/official_setup.sh and imports the official modules at
run time from the extracted copy (nothing of it is copied into this repository):

    /tmp/official/venv/bin/python bench/official.py --src /tmp/official/src --threads 2
    /tmp/official/venv/bin/python bench/official.py --src /tmp/official/src --size tiny
    options: --settings greedy,defaults --json out.json --work DIR --prompt-s 6
             --durations 2,3,4,5 --verbose

What it does:
- builds `IndexTTS2` by its own `__init__`. `--size full`: the full-size config
  (../shared/reference/keys/config.yaml; w2v-BERT 2.0 and BigVGAN v2 22 kHz hub configs from
  keys/) with random weights: every official class keeps its default init, and the weight
  loaders `__init__` calls are fed the modules as built instead of reading multi-GB files
  (the small files it torch.loads are written to --work). `--size tiny`: the tiny reference
  checkpoints, loaded by the official loaders (a harness check, seconds not minutes).
- exact mode: `mel_head.bias[stop_mel_token]` is lowered so far that the decoder never
  stops, and `max_mel_tokens` = T = round(50 d) (models/units.py tokens_for), so the GPT
  emits exactly T codes and the official S2M makes (T * 1.72) frames. At full size
  `mel_head.bias[start_mel_token]` is lowered by 20, as in the reference fixtures (a random
  model would emit it, and vq2emb cannot take it).
- speaker prompt: espeak-ng speech tiled to --prompt-s (the prompt bench/engine.py makes).
  The official code caches the prompt's features; the first call (a short warm-up line) is
  timed on its own, and the lines are timed from warm calls, as a user rendering many
  lines would see them. Emotion: the official default (the speaker prompt, cached).
- two settings: greedy (num_beams 1, do_sample False, top_k 1) and the official defaults of
  `infer_generator` (read from the code: do_sample True (hard-coded), top_p 0.8, top_k 30,
  temperature 0.8, num_beams 3, repetition_penalty 10, length_penalty 0; 25 diffusion
  steps at cfg 0.7 are hard-coded).
- per line: total wall, GPT generate (inference_speech), emotion merge, GPT latent forward,
  flow model (CFM inference), the rest of S2M (gpt_layer, vq2emb, length regulator), BigVGAN.
  Peak RSS: the process peak and each setting's own peak while rendering (VmHWM reset).

Patches to the official code: none to its files. At run time, on the module's names only:
stand-ins for imports inference does not use (whisper.tokenizer, tiktoken, audiotools,
argbind, modelscope), a pass-through text normaliser, `aux_paths` to local folders
(no hub calls; HF offline), the full-size weight loaders as said above, and for greedy a
wrapper on `gpt.inference_speech` that passes do_sample=False (infer_generator pops the
caller's do_sample and hard-codes True). Timers wrap the instance's methods.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.machinery
import io
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import types
import warnings
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO.parent / "shared" / "reference"
COMMIT = "ee40fa7d6c6b8a2c7f06105f9f1e65775b74868c"

# The lines and their texts (bench/engine.py TEXTS, issue_requests order).
TEXTS = (
    "Where have you been all this time?",
    "I was waiting for the morning train, and it never came.",
    "The train never came, did it?",
    "No. So I walked the whole way home in the rain.",
)
FULL_DURATIONS = (2.0, 3.0, 4.0, 5.0)
# The tiny GPT holds max_mel_tokens 100 positions: the same four lines at 1/2.5 the length.
TINY_DURATIONS = (0.5, 1.0, 1.5, 2.0)
WARMUP_TEXT = "Good evening."
WARMUP_S = 0.5
SEMANTIC_TOKENS_PER_SECOND = 50  # models/units.py
PROMPT_TEXT = "Good evening. I am the voice that this benchmark clones."  # bench/engine.py

SETTINGS: dict[str, dict[str, Any]] = {
    # num_beams 1, do_sample False (forced through the wrapper, see the module doc); top_k 1
    # as our Sampling.greedy(); repetition penalty etc. stay at the official defaults.
    "greedy": {"num_beams": 1, "do_sample": False, "top_k": 1},
    # Nothing passed: infer_generator's own defaults apply.
    "defaults": {},
}
SETTING_LABELS = {
    "greedy": "official greedy (num_beams 1, do_sample False)",
    "defaults": "official defaults (3-beam sampling, top_p 0.8, top_k 30, T 0.8, rep 10)",
}


# ---- process figures --------------------------------------------------------------------


def rss_peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def reset_peak_rss() -> None:
    """Linux: restart VmHWM so a phase's own peak can be read."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


def phase_peak_gb() -> float:
    with contextlib.suppress(OSError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024**2
    return rss_peak_gb()


# ---- stand-ins for imports inference never reaches ---------------------------------------


class _Anything:
    """A class that takes any arguments; stands in for unused third-party names."""

    INTERN: list[str] = []
    EXTERN: list[str] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        # Used as a decorator (argbind.bind(...)(fn)): hand the function back unchanged.
        return args[0] if args else self


def _stub_module(name: str, **attrs: Any) -> types.ModuleType:
    mod = types.ModuleType(name)
    # A spec, so importlib.util.find_spec (transformers probes optional packages) answers.
    mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
    mod.__dict__.update(attrs)

    def __getattr__(attr: str) -> Any:
        if attr.startswith("__"):
            raise AttributeError(attr)
        # A fresh subclass per name, so class attributes (INTERN += ...) stay per name.
        return type(attr, (_Anything,), {"INTERN": [], "EXTERN": []})

    mod.__getattr__ = __getattr__  # type: ignore[method-assign]
    sys.modules[name] = mod
    return mod


def install_stand_ins() -> None:
    """whisper.tokenizer and tiktoken (gpt/model_v2 -> utils/tokenizer.py), audiotools and
    argbind (s2mel/dac/__init__.py), modelscope (infer_v2.py): the reference fixtures'
    stand-ins; nothing on the inference path calls them."""
    whisper = _stub_module("whisper")
    whisper.tokenizer = _stub_module("whisper.tokenizer")  # type: ignore[attr-defined]
    _stub_module("tiktoken")
    audiotools = _stub_module("audiotools")
    audiotools.ml = _stub_module("audiotools.ml")  # type: ignore[attr-defined]
    _stub_module("argbind")
    _stub_module("modelscope")


class PassThroughNormalizer:
    """In place of the official TextNormalizer (WeTextProcessing FSTs), as the reference run."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def load(self) -> None:
        pass

    def normalize(self, text: str) -> str:
        return text

    def load_glossary_from_yaml(self, path: str) -> None:
        pass


# ---- prompt -------------------------------------------------------------------------------


def make_prompt(path: Path, seconds: float) -> Path:
    """espeak-ng speech (en-us, pitch 40, 165 wpm, as core/sample_media.speak) at 48 kHz,
    tiled to `seconds`: the prompt bench/engine.py clones."""
    import numpy as np
    import soundfile as sf
    import soxr

    rate = 48000
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "prompt.wav"
        cmd = ["espeak-ng", "-v", "en-us", "-p", "40", "-s", "165", "-w", str(wav), PROMPT_TEXT]
        subprocess.run(cmd, check=True, capture_output=True)
        speech, sr = sf.read(str(wav), dtype="float32")
    if speech.ndim > 1:
        speech = speech.mean(axis=1)
    speech = soxr.resample(speech, sr, rate).astype(np.float32)
    n = int(seconds * rate)
    audio = np.tile(speech, int(np.ceil(n / len(speech))))[:n]
    sf.write(str(path), audio, rate, subtype="FLOAT")
    return path


# ---- model folders -----------------------------------------------------------------------


@dataclass
class ModelFolder:
    cfg_path: Path
    model_dir: Path
    aux_paths: dict[str, str]


def tiny_folder(reference: Path) -> ModelFolder:
    """The chain-consistent tiny set: e2e/checkpoints (GPT, S2M, codec, stats, matrices,
    bpe) plus checkpoints/' w2v-BERT, CAMPPlus and BigVGAN (as model_dir/ lays them out)."""
    e2e = reference / "e2e" / "checkpoints"
    ck = reference / "checkpoints"
    aux = {
        "w2v_bert": str(ck / "w2v-bert-2.0"),
        "semantic_codec": str(e2e / "semantic_codec" / "model.safetensors"),
        "campplus": str(ck / "campplus_cn_common.bin"),
        "bigvgan": str(ck / "bigvgan"),
    }
    return ModelFolder(e2e / "config.yaml", e2e, aux)


def tiny_factories(infer_v2: types.ModuleType, reference: Path) -> None:
    """The two factories of the reference e2e run (e2e/checkpoints/overrides.json): the
    official code hard-codes the conformer input 1024 and gpt_layer 1280 -> 1024, which the
    tiny chain (w2v-BERT 32 wide, GPT 64 wide) replaces; nothing else changes."""
    import torch
    from indextts.gpt import model_v2

    o = json.loads((reference / "e2e" / "checkpoints" / "overrides.json").read_text())
    conformer = model_v2.ConformerEncoder

    def tiny_conformer(*args: Any, **kwargs: Any) -> Any:
        kwargs["input_size"] = o["gpt_conditioning_input_size"]
        return conformer(*args, **kwargs)

    model_v2.ConformerEncoder = tiny_conformer
    my_model = infer_v2.MyModel

    def tiny_my_model(*args: Any, **kwargs: Any) -> Any:
        model = my_model(*args, **kwargs)
        model.models["gpt_layer"] = torch.nn.Sequential(
            torch.nn.Linear(o["gpt_model_dim"], 256),
            torch.nn.Linear(256, 128),
            torch.nn.Linear(128, o["s2mel_gpt_layer_out"]),
        )
        return model

    infer_v2.MyModel = tiny_my_model


def full_folder(reference: Path, work: Path) -> ModelFolder:
    """A full-size model folder with what IndexTTS2.__init__ reads by torch.load / from a
    hub folder: config.yaml, stats, emotion matrices, bpe, CAMPPlus weights, the w2v-BERT
    and BigVGAN hub configs. The big weight files are not written (see feed_random_weights)."""
    import shutil

    import torch
    from indextts.s2mel.modules.campplus.DTDNN import CAMPPlus
    from omegaconf import OmegaConf
    from transformers import SeamlessM4TFeatureExtractor, Wav2Vec2BertConfig

    keys = reference / "keys"
    work.mkdir(parents=True, exist_ok=True)
    cache = work / "hf_cache"
    (cache / "bigvgan").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(keys / "config.yaml", work / "config.yaml")
    # Text ids only need to lie below number_text_tokens; our bench uses the same bpe.model.
    shutil.copyfile(reference / "checkpoints" / "bpe.model", work / "bpe.model")
    cfg = OmegaConf.load(work / "config.yaml")
    g = torch.Generator().manual_seed(7)
    rows = sum(cfg.emo_num)
    hidden = 1024  # w2v-BERT 2.0 hidden size
    torch.save({"mean": torch.zeros(hidden), "var": torch.ones(hidden)}, work / cfg.w2v_stat)
    torch.save(torch.randn(rows, 192, generator=g), work / cfg.spk_matrix)
    torch.save(torch.randn(rows, cfg.gpt.model_dim, generator=g), work / cfg.emo_matrix)
    torch.save(CAMPPlus(feat_dim=80, embedding_size=192).state_dict(), cache / "campplus.bin")

    w2v = json.loads((keys / "w2v_bert_2_0.json").read_text())["config"]
    Wav2Vec2BertConfig(**w2v).save_pretrained(cache / "w2v-bert-2.0")
    SeamlessM4TFeatureExtractor(
        feature_size=80, num_mel_bins=80, padding_value=1.0, sampling_rate=16000, stride=2
    ).save_pretrained(cache / "w2v-bert-2.0")
    h = json.loads((keys / "bigvgan_v2_22khz_80band_256x.json").read_text())["h"]
    (cache / "bigvgan" / "config.json").write_text(json.dumps(h, indent=2))
    aux = {
        "w2v_bert": str(cache / "w2v-bert-2.0"),
        "semantic_codec": str(cache / "semantic_codec_model.safetensors"),  # not read
        "campplus": str(cache / "campplus.bin"),
        "bigvgan": str(cache / "bigvgan"),
    }
    return ModelFolder(work / "config.yaml", work, aux)


def feed_random_weights(infer_v2: types.ModuleType) -> None:
    """Full size: `IndexTTS2.__init__` builds every module with the official classes; its
    weight loaders then leave them as built (default init) instead of reading GB files."""
    from indextts.s2mel.modules.bigvgan import bigvgan as bigvgan_mod
    from transformers import Wav2Vec2BertConfig, Wav2Vec2BertModel

    infer_v2.load_checkpoint = lambda model, path: {}  # GPT
    infer_v2.load_checkpoint2 = lambda model, *a, **k: (model, None, 0, 0)  # S2M
    infer_v2.safetensors = types.SimpleNamespace(  # semantic codec
        torch=types.SimpleNamespace(load_model=lambda model, path, **k: (set(), set()))
    )

    class RandomW2V:
        @staticmethod
        def from_pretrained(path: str, **kwargs: Any) -> Any:
            return Wav2Vec2BertModel(Wav2Vec2BertConfig.from_pretrained(path)).eval()

    class RandomBigVGAN:
        @staticmethod
        def from_pretrained(path: str, use_cuda_kernel: bool = False, **kwargs: Any) -> Any:
            h = bigvgan_mod.load_hparams_from_json(os.path.join(path, "config.json"))
            return bigvgan_mod.BigVGAN(h, use_cuda_kernel=use_cuda_kernel)

    infer_v2.Wav2Vec2BertModel = RandomW2V
    infer_v2.bigvgan = types.SimpleNamespace(BigVGAN=RandomBigVGAN)


# ---- timers ---------------------------------------------------------------------------------


@dataclass
class Probe:
    """Seconds per official step within one infer call, and what the steps saw."""

    times: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    first_merge_at: float | None = None
    codes: list[int] = field(default_factory=list)
    stop_in_codes: bool = False
    # (ylens, seconds) per length-regulator call: the prompt's (cold call) and the line's.
    regulator: list[tuple[int, float]] = field(default_factory=list)
    gen_kwargs: dict[str, Any] = field(default_factory=dict)

    def reset(self) -> None:
        self.__init__()  # type: ignore[misc]


def _timed(obj: Any, name: str, key: str, probe: Probe, before=None, after=None) -> None:
    orig = getattr(obj, name)

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if before is not None:
            args, kwargs = before(args, kwargs)
        t0 = time.perf_counter()
        out = orig(*args, **kwargs)
        probe.times[key] += time.perf_counter() - t0
        if after is not None:
            after(args, kwargs, out)
        return out

    setattr(obj, name, wrapper)


def instrument(tts: Any, probe: Probe, overrides: dict[str, Any]) -> None:
    """Wrap the instance's steps (the official code is untouched)."""
    stop = int(tts.stop_mel_token)

    def mark_merge(args, kwargs):
        if probe.first_merge_at is None:
            probe.first_merge_at = time.perf_counter()
        return args, kwargs

    def gen_before(args, kwargs):
        # infer_generator hard-codes do_sample=True; the greedy setting passes False here.
        kwargs = {**kwargs, **overrides}
        probe.gen_kwargs = {
            k: kwargs.get(k)
            for k in ("do_sample", "num_beams", "top_k", "top_p", "temperature")
            if k in kwargs
        } | {
            "repetition_penalty": kwargs.get("repetition_penalty"),
            "max_generate_length": kwargs.get("max_generate_length"),
        }
        return args, kwargs

    def gen_after(args, kwargs, out):
        codes = out[0]
        probe.codes.append(int(codes.shape[-1]))
        probe.stop_in_codes |= bool((codes == stop).any())

    regulator = tts.s2mel.models["length_regulator"]
    lr_orig = regulator.forward

    def lr_timed(*args, **kwargs):
        t0 = time.perf_counter()
        out = lr_orig(*args, **kwargs)
        probe.regulator.append((int(kwargs["ylens"].max()), time.perf_counter() - t0))
        return out

    regulator.forward = lr_timed
    _timed(tts.gpt, "merge_emovec", "emovec", probe, before=mark_merge)
    _timed(tts.gpt, "inference_speech", "gpt_gen", probe, before=gen_before, after=gen_after)
    _timed(tts.gpt, "forward", "gpt_forward", probe)
    s2mel = tts.s2mel.models
    _timed(s2mel["gpt_layer"], "forward", "s2m_other", probe)
    _timed(tts.semantic_codec.quantizer, "vq2emb", "s2m_other", probe)
    _timed(s2mel["cfm"], "inference", "flow", probe)
    _timed(tts.bigvgan, "forward", "bigvgan", probe)
    _timed(tts, "get_emb", "w2v_bert", probe)
    _timed(tts.campplus_model, "forward", "campplus", probe)
    _timed(tts.semantic_codec, "quantize", "codec_quantize", probe)
    _timed(tts.tokenizer, "tokenize", "text", probe)


# ---- the run ----------------------------------------------------------------------------


@dataclass
class LineFigures:
    duration_s: float
    tokens: int
    codes: int
    frames: int
    samples: int
    total_s: float
    gpt_gen_s: float
    emovec_s: float
    gpt_forward_s: float
    flow_s: float
    s2m_other_s: float
    bigvgan_s: float
    features_s: float


def run_line(tts: Any, probe: Probe, prompt: Path, text: str, d: float, seed: int, quiet: bool):
    tokens = round(d * SEMANTIC_TOKENS_PER_SECOND)
    probe.reset()
    torch_seed(seed)
    sink = io.StringIO()
    out = contextlib.ExitStack()
    if quiet:  # the official prints and progress bars (stderr) go to a sink
        out.enter_context(contextlib.redirect_stdout(sink))
        out.enter_context(contextlib.redirect_stderr(sink))
    with out, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        t0 = time.perf_counter()
        sr, wav = tts.infer(
            spk_audio_prompt=str(prompt),
            text=text,
            output_path=None,
            max_mel_tokens=tokens,
            **probe_settings(tts),
        )
        total = time.perf_counter() - t0
    if probe.codes != [tokens] or probe.stop_in_codes:
        raise RuntimeError(f"not exact: asked {tokens} codes, got {probe.codes}")
    t = probe.times
    # The prompt's one-time work: from the call's start to the first emotion merge (audio
    # load and resampling, w2v-BERT x2, codec, mel, fbank + CAMPPlus, prompt regulator),
    # less the text front end that also falls in that window.
    features = 0.0
    if probe.first_merge_at is not None:
        features = max(0.0, probe.first_merge_at - t0 - t.get("text", 0.0))
    frames, regulator_s = probe.regulator[-1]  # the line's own (the last call)
    return LineFigures(
        duration_s=d,
        tokens=tokens,
        codes=probe.codes[0],
        frames=frames,
        samples=int(wav.shape[0]),
        total_s=total,
        gpt_gen_s=t.get("gpt_gen", 0.0),
        emovec_s=t.get("emovec", 0.0),
        gpt_forward_s=t.get("gpt_forward", 0.0),
        flow_s=t.get("flow", 0.0),
        # gpt_layer + vq2emb + the line's length regulator (the prompt's, on a cold call,
        # counts in features): the official s2mel_time less the flow model.
        s2m_other_s=t.get("s2m_other", 0.0) + regulator_s,
        bigvgan_s=t.get("bigvgan", 0.0),
        features_s=features,
    )


_SETTING_KWARGS: dict[int, dict[str, Any]] = {}


def probe_settings(tts: Any) -> dict[str, Any]:
    return _SETTING_KWARGS.get(id(tts), {})


def torch_seed(seed: int) -> None:
    import numpy as np
    import torch

    torch.manual_seed(seed)
    random.seed(seed)
    np.random.seed(seed)


def build(args: argparse.Namespace) -> tuple[Any, float]:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    sys.path.insert(0, str(args.src))
    import torch
    import transformers  # noqa: F401  (probes its optional packages before the stand-ins)

    install_stand_ins()

    torch.set_num_threads(args.threads)
    from indextts import infer_v2
    from indextts.utils.front import TextTokenizer

    infer_v2.TextNormalizer = PassThroughNormalizer
    if args.size == "full":
        folder = full_folder(args.reference, args.work / "full")
        feed_random_weights(infer_v2)
    else:
        folder = tiny_folder(args.reference)
        tiny_factories(infer_v2, args.reference)
    torch.manual_seed(0)
    t0 = time.perf_counter()
    sink = io.StringIO()
    out = contextlib.redirect_stdout(sink) if not args.verbose else contextlib.nullcontext()
    with out, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tts = infer_v2.IndexTTS2(
            cfg_path=str(folder.cfg_path),
            model_dir=str(folder.model_dir),
            device="cpu",
            use_qwen_emo=False,
            aux_paths=folder.aux_paths,
        )
    build_s = time.perf_counter() - t0
    # As the reference run: the official tokenizer on the bpe model, no normaliser.
    tts.tokenizer = TextTokenizer(str(Path(folder.model_dir) / tts.cfg.dataset["bpe_model"]), None)
    bias = tts.gpt.mel_head.bias
    with torch.no_grad():
        if args.size == "full":
            bias[int(tts.cfg.gpt.start_mel_token)] -= 20.0  # the tiny checkpoint has it already
        # Exact mode: the decoder never stops, so max_mel_tokens codes come out.
        bias[int(tts.stop_mel_token)] -= 1.0e4
    return tts, build_s


def fmt_row(label: str, lines: list[LineFigures], peak: float) -> str:
    per = " / ".join(f"{x.total_s:.1f}" for x in lines)
    total = sum(x.total_s for x in lines)
    flow = sum(x.flow_s for x in lines)
    return f"| {label} | {per} | {total:.1f} | {flow:.1f} | {peak:.2f} |"


def stage_table(name: str, lines: list[LineFigures]) -> str:
    cols = (
        ("total", "total_s"),
        ("GPT generate", "gpt_gen_s"),
        ("emo merge", "emovec_s"),
        ("GPT latent", "gpt_forward_s"),
        ("flow (CFM)", "flow_s"),
        ("S2M other", "s2m_other_s"),
        ("BigVGAN", "bigvgan_s"),
    )
    out = [
        f"{name}: seconds per stage",
        "| line | codes | frames | " + " | ".join(c for c, _ in cols) + " |",
        "|---|---|---|" + "---|" * len(cols),
    ]
    for x in lines:
        vals = " | ".join(f"{getattr(x, k):.2f}" for _, k in cols)
        out.append(f"| {x.duration_s:g} s | {x.codes} | {x.frames} | {vals} |")
    sums = " | ".join(f"{sum(getattr(x, k) for x in lines):.2f}" for _, k in cols)
    out.append(f"| sum | {sum(x.codes for x in lines)} | {sum(x.frames for x in lines)} | {sums} |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--src", type=Path, default=Path("/tmp/official/src"))
    ap.add_argument("--size", choices=("full", "tiny"), default="full")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--settings", default="greedy,defaults")
    ap.add_argument("--durations", default="", help="line seconds (default 2,3,4,5; tiny 0.5-2)")
    ap.add_argument("--prompt-s", type=float, default=6.0)
    ap.add_argument("--reference", type=Path, default=REFERENCE)
    ap.add_argument("--work", type=Path, default=Path("/tmp/official/work"))
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--verbose", action="store_true", help="show the official code's prints")
    args = ap.parse_args(argv)
    if not (args.src / "indextts" / "infer_v2.py").is_file():
        ap.error(f"no official source in {args.src} (run bench/official_setup.sh)")
    settings = [s for s in args.settings.split(",") if s]
    for s in settings:
        if s not in SETTINGS:
            ap.error(f"unknown setting {s!r}; known: {', '.join(SETTINGS)}")
    if args.durations:
        durations = tuple(float(x) for x in args.durations.split(","))
    else:
        durations = FULL_DURATIONS if args.size == "full" else TINY_DURATIONS

    tts, build_s = build(args)
    import torch

    print(
        f"official IndexTTS2 {COMMIT[:8]} ({args.size} size, random weights) built in "
        f"{build_s:.1f} s; {torch.get_num_threads()} threads; torch {torch.__version__}; "
        f"RSS peak {rss_peak_gb():.2f} GB",
        flush=True,
    )
    args.work.mkdir(parents=True, exist_ok=True)
    prompt = make_prompt(args.work / f"prompt_{args.prompt_s:g}s.wav", args.prompt_s)
    probe = Probe()
    report: dict[str, Any] = {
        "commit": COMMIT,
        "size": args.size,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "build_s": build_s,
        "prompt_s": args.prompt_s,
        "durations_s": list(durations),
        "settings": {},
    }
    rows = []
    first = True
    for name in settings:
        overrides = {k: v for k, v in SETTINGS[name].items() if k == "do_sample"}
        passed = {k: v for k, v in SETTINGS[name].items() if k != "do_sample"}
        instrument_once(tts, probe, overrides)
        _SETTING_KWARGS[id(tts)] = passed
        if first:
            # The cold call: the prompt's features are computed and cached here.
            cold = run_line(tts, probe, prompt, WARMUP_TEXT, WARMUP_S, 99, not args.verbose)
            report["features_s"] = cold.features_s
            report["cold_call"] = asdict(cold)
            print(
                f"prompt features ({args.prompt_s:g} s prompt, first call, cached after): "
                f"{cold.features_s:.2f} s; that call ({WARMUP_S:g} s line) {cold.total_s:.2f} s",
                flush=True,
            )
            first = False
        import gc

        gc.collect()
        reset_peak_rss()
        lines = []
        for i, d in enumerate(durations):
            fig = run_line(tts, probe, prompt, TEXTS[i % len(TEXTS)], d, i, not args.verbose)
            lines.append(fig)
            print(
                f"  {name} {d:g} s: {fig.total_s:.2f} s (codes {fig.codes}, frames {fig.frames},"
                f" GPT {fig.gpt_gen_s:.2f}, flow {fig.flow_s:.2f}, BigVGAN {fig.bigvgan_s:.2f})",
                flush=True,
            )
        peak = phase_peak_gb()
        report["settings"][name] = {
            "label": SETTING_LABELS[name],
            "generation_kwargs": probe.gen_kwargs,
            "lines": [asdict(x) for x in lines],
            "sum_s": sum(x.total_s for x in lines),
            "flow_sum_s": sum(x.flow_s for x in lines),
            "render_peak_rss_gb": peak,
        }
        rows.append((name, lines, peak))
        print(stage_table(SETTING_LABELS[name], lines), flush=True)

    report["peak_rss_gb"] = rss_peak_gb()
    fmt = " / ".join(f"{d:g}" for d in durations)
    print()
    print(
        f"Official IndexTTS2 ({COMMIT[:8]}), {args.size} size, random weights, CPU, "
        f"{report['threads']} threads, {args.prompt_s:g} s prompt (features "
        f"{report.get('features_s', 0.0):.1f} s once, not in the lines), exact mode"
    )
    print(
        f"| setting | {fmt} s lines: per line (s) | sum (s) | of which flow model (s) | peak RSS while rendering (GB) |"
    )
    print("|---|---|---|---|---|")
    for name, lines, peak in rows:
        print(fmt_row(SETTING_LABELS[name], lines, peak))
    print(f"process peak RSS (build included): {report['peak_rss_gb']:.2f} GB", flush=True)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 0


_INSTRUMENTED: dict[int, dict[str, Any]] = {}


def instrument_once(tts: Any, probe: Probe, overrides: dict[str, Any]) -> None:
    """Wrap once; later settings only change the overrides the wrapper applies."""
    if id(tts) not in _INSTRUMENTED:
        _INSTRUMENTED[id(tts)] = {}
        instrument(tts, probe, _INSTRUMENTED[id(tts)])
    current = _INSTRUMENTED[id(tts)]
    current.clear()
    current.update(overrides)


if __name__ == "__main__":
    raise SystemExit(main())

"""Emotion control of IndexTTS2: everything that produces the emotion vector (emovec, [1, D])
added to the speaker latents in T2S.conds().

The four ways (paper and official code):
1. From the speaker prompt itself: `T2S.emotion_vector(spk_feats)`.
2. From a reference clip with strength alpha: `T2S.merge_emovec(spk_feats, emo_feats, alpha)`
   = base + alpha * (emo - base).
3. From 8 weights [happy, angry, sad, afraid, disgusted, melancholic, surprised, calm]:
   `vector_to_emovec(weights, style, matrices, base_emovec, alpha)`: the weights are scaled by
   alpha and truncated to 4 decimals (official rule), each group of feat2.pt rows contributes
   the row whose feat1.pt speaker row is nearest (cosine) to the voice's CAMPPlus style, and
   emovec = sum_i w_i * row_i + (1 - sum w) * base_emovec. `normalize_weights()` is the
   official UI step (per-emotion bias, sum capped at 0.8); callers choose whether to apply it.
4. From a text description: `TextEmotion(qwen_dir).to_vector(text)` -> 8 weights via the
   Qwen3 text-to-emotion model (local folder only), then way 3. `TextEmotion.read(text)`
   also says whether the weights are a calm fallback (reply unusable) and why.

    mats = EmotionMatrices.load(model_dir / "feat1.pt", model_dir / "feat2.pt", cfg.emo_num)
    emovec = vector_to_emovec([0, .35, 0, .1, 0, .2, 0, .15], style, mats, base, alpha=0.6)
    TextEmotion(model_dir / cfg.qwen_emo_path).to_vector("furious and scared") -> [8 floats]
"""

from __future__ import annotations

import json
import math
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from models.contract import EMOTION_NAMES, ModelFilesMissing

# Official UI bias: de-emphasises emotions that tend to sound strange at full strength.
EMOTION_BIAS = (0.9375, 0.875, 1.0, 1.0, 0.9375, 0.9375, 0.6875, 0.5625)
MAX_EMOTION_SUM = 0.8


@dataclass(frozen=True)
class EmotionMatrices:
    """feat1.pt (speaker rows) and feat2.pt (emotion rows), split into the 8 emotion groups."""

    spk: tuple[Tensor, ...]
    emo: tuple[Tensor, ...]

    @classmethod
    def load(cls, spk_path: Path, emo_path: Path, emo_num: Sequence[int]) -> EmotionMatrices:
        spk = torch.load(spk_path, map_location="cpu", weights_only=True)
        emo = torch.load(emo_path, map_location="cpu", weights_only=True)
        return cls.from_tensors(spk, emo, emo_num)

    @classmethod
    def from_tensors(cls, spk: Tensor, emo: Tensor, emo_num: Sequence[int]) -> EmotionMatrices:
        sizes = [int(x) for x in emo_num]
        if len(sizes) != len(EMOTION_NAMES):
            raise ValueError(f"emo_num needs {len(EMOTION_NAMES)} group sizes, got {sizes}")
        if spk.shape[0] != sum(sizes) or emo.shape[0] != sum(sizes):
            raise ValueError(
                f"emotion matrices have {spk.shape[0]} / {emo.shape[0]} rows; emo_num sums to {sum(sizes)}"
            )
        return cls(tuple(torch.split(spk.float(), sizes)), tuple(torch.split(emo.float(), sizes)))


def scale_weights(weights: Sequence[float], alpha: float) -> list[float]:
    """Official rule: alpha in [0, 1] scales the weights, truncated to 4 decimals (only if != 1)."""
    a = max(0.0, min(1.0, float(alpha)))
    if a == 1.0:
        return [float(w) for w in weights]
    return [int(w * a * 10000) / 10000 for w in weights]


def normalize_weights(weights: Sequence[float], apply_bias: bool = True) -> list[float]:
    """Official UI normalisation: per-emotion bias, then the sum capped at 0.8."""
    w = [float(x) for x in weights]
    if apply_bias:
        w = [x * b for x, b in zip(w, EMOTION_BIAS, strict=True)]
    total = sum(w)
    if total > MAX_EMOTION_SUM:
        w = [x * (MAX_EMOTION_SUM / total) for x in w]
    return w


def group_similarities(style: Tensor, mats: EmotionMatrices) -> list[Tensor]:
    """Cosine similarity of the style [1, 192] to every speaker row, per group."""
    q = style.reshape(1, -1).float()
    return [F.cosine_similarity(q, g, dim=1) for g in mats.spk]


def nearest_rows(style: Tensor, mats: EmotionMatrices) -> list[int]:
    """The official per-group choice: argmax cosine similarity to the voice's style."""
    return [int(torch.argmax(s)) for s in group_similarities(style, mats)]


def vector_to_emovec(
    weights: Sequence[float],
    style: Tensor,
    mats: EmotionMatrices,
    base_emovec: Tensor,
    alpha: float = 1.0,
    normalize: bool = False,
    use_random: bool = False,
    rng: random.Random | None = None,
) -> Tensor:
    """8 weights -> emotion vector [1, D] (official infer path with an emo_vector).

    base_emovec is the voice's own emotion vector (merge_emovec of the prompt with itself at
    alpha 1.0). `normalize` applies the UI bias and sum cap first; `use_random` picks a random
    row per group as the official `use_random` does.
    """
    if len(weights) != len(EMOTION_NAMES):
        raise ValueError(
            f"an emotion vector needs {len(EMOTION_NAMES)} weights, got {len(weights)}"
        )
    w = normalize_weights(weights) if normalize else [float(x) for x in weights]
    w = scale_weights(w, alpha)
    if use_random:
        rng = rng or random.Random()
        index = [rng.randint(0, g.shape[0] - 1) for g in mats.emo]
    else:
        index = nearest_rows(style, mats)
    base = base_emovec.reshape(1, -1)
    rows = torch.stack([g[i] for g, i in zip(mats.emo, index, strict=True)]).to(base)
    weight = torch.tensor(w, dtype=torch.float32).to(base.device)
    mixed = (weight.unsqueeze(1) * rows).sum(0, keepdim=True)
    return mixed + (1 - torch.sum(weight)) * base


# ---- text -> 8 weights (Qwen3 text-to-emotion) -------------------------------------------------
QWEN_PROMPT = "文本情感分类"
CN_TO_EN = {
    "高兴": "happy",
    "愤怒": "angry",
    "悲伤": "sad",
    "恐惧": "afraid",
    "反感": "disgusted",
    "低落": "melancholic",
    "惊讶": "surprised",
    "自然": "calm",
}
CN_ORDER = ("高兴", "愤怒", "悲伤", "恐惧", "反感", "低落", "惊讶", "自然")
# The model cannot tell sad from melancholic; these words move "sad" to "melancholic".
MELANCHOLIC_WORDS = ("低落", "melancholy", "melancholic", "depression", "depressed", "gloomy")
MAX_SCORE, MIN_SCORE = 1.2, 0.0
THINK_END_ID = 151668  # "</think>" in the Qwen3 vocabulary


class TextEmotionError(ValueError):
    """The text-to-emotion model answered something that is not an emotion score."""


def _score(value: Any) -> float:
    """A reply's score -> float in [0, 1.2]; non-finite (NaN, inf) counts as no emotion."""
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TextEmotionError(f"text-to-emotion returned a non-numeric score {value!r}") from exc
    if not math.isfinite(v):
        return 0.0
    return max(MIN_SCORE, min(MAX_SCORE, v))


def _label_to_cn(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    if value in CN_TO_EN:
        return value
    low = value.lower()
    for cn, en in CN_TO_EN.items():
        if low == en:
            return cn
    return None


def _normalize_content(content: Any) -> dict[str, Any]:
    """Official normalize_content: accept a bare label, label fields, or label values.

    Also (not official): English keys ({"happy": 0.9}) count as their Chinese keys.
    """
    normalized: dict[str, Any] = dict(content) if isinstance(content, dict) else {}
    for key in list(normalized):
        cn = _label_to_cn(key)
        if cn is not None and cn != key and cn not in normalized:
            normalized[cn] = normalized.pop(key)
    detected = _label_to_cn(content) if isinstance(content, str) else None
    if detected is None:
        for alias in ("emotion", "emotion_label", "label", "情感", "情绪"):
            detected = _label_to_cn(normalized.get(alias))
            if detected is not None:
                break
    if detected is not None and all(k not in normalized for k in CN_ORDER):
        normalized[detected] = 1.0
    for cn in CN_ORDER:
        found = _label_to_cn(normalized.get(cn))
        if found is not None:
            normalized[cn] = 1.0 if found == cn else 0.0
            if found != cn:
                normalized[found] = 1.0
    return normalized


# `key: value` pairs when the reply is not JSON; ASCII or full-width colon, value up to the
# next separator (checked as a number afterwards, so "1.1.1" is caught, not half-read).
_PAIR = re.compile(r'([^\s"\'{}\[\]:：,，.]+?)["\']?\s*[:：]\s*["\']?([^\s,，;；}\]"\']+)')
_LABEL_TRIM = " \t\r\n\"'“”‘’「」.。!！{}[]"


@dataclass(frozen=True)
class EmotionReading:
    """What a text-to-emotion reply gave: 8 weights in EMOTION_NAMES order, each in [0, 1.2].

    fallback is True when nothing usable was read (no emotion in the reply, or a malformed
    score) and the weights are the calm default; note then says why, for the user.
    """

    weights: list[float]
    fallback: bool = False
    note: str | None = None


def _reply_content(reply: str) -> Any:
    """JSON if the reply is JSON, else the `key: value` pairs, else the bare reply as a label."""
    reply = reply.strip()
    try:
        return json.loads(reply)
    except json.JSONDecodeError:
        pass
    # A sentence-final period is not part of the number ("高兴: 0.9.").
    pairs = {m.group(1).strip(): m.group(2).rstrip(".。") for m in _PAIR.finditer(reply)}
    if any(_label_to_cn(k) for k in pairs):
        return pairs
    return reply.strip(_LABEL_TRIM)  # a bare label such as 高兴 (unknown text: no emotion)


def read_emotion_reply(reply: str, text: str) -> EmotionReading:
    """The model's decoded answer -> EmotionReading (official parsing, made robust).

    Official: JSON, else `key: number` pairs, label replies ({"emotion": "angry"}, "sad"),
    the melancholic swap for texts with MELANCHOLIC_WORDS, scores clamped to [0, 1.2], all
    zero -> calm 1. Differences: the swap comes after label normalising (the official order
    drops a label reply to calm); a bare unquoted label counts; full-width `：`/`，` and English
    keys parse; NaN/inf count as 0; a malformed or non-numeric score gives calm with
    fallback=True instead of failing the request (the official code raises).
    """
    content = _normalize_content(_reply_content(reply))
    found = any(cn in content for cn in CN_ORDER)
    if any(word in text.lower() for word in MELANCHOLIC_WORDS):
        content["悲伤"], content["低落"] = content.get("低落", 0.0), content.get("悲伤", 0.0)
    calm = [0.0] * len(CN_ORDER)
    calm[CN_ORDER.index("自然")] = 1.0
    try:
        weights = [_score(content.get(cn, 0.0)) for cn in CN_ORDER]
    except TextEmotionError as exc:
        return EmotionReading(calm, True, f"{exc}; using a calm voice")
    if all(v <= 0.0 for v in weights):
        note = "no emotion above zero" if found else f"no emotion found in {reply.strip()[:80]!r}"
        return EmotionReading(calm, True, f"text-to-emotion: {note}; using a calm voice")
    return EmotionReading(weights)


def parse_emotion_reply(reply: str, text: str) -> list[float]:
    """read_emotion_reply(...).weights: 8 weights in EMOTION_NAMES order."""
    return read_emotion_reply(reply, text).weights


class TextEmotion:
    """Qwen3 text-to-emotion model from a local folder (qwen0.6bemo4-merge/).

    Nothing is loaded until the first to_vector(); a missing folder raises ModelFilesMissing
    then, so voices without an emotion text never need the model. Decoding is greedy by
    default (the official code samples with the folder's generation config) so one text gives
    one vector and results can be cached; `sample=True` restores the folder's settings.
    """

    def __init__(
        self,
        model_dir: Path,
        device: str | torch.device = "cpu",
        dtype: torch.dtype = torch.float32,
        max_new_tokens: int = 256,
        sample: bool = False,
    ) -> None:
        self.model_dir = Path(model_dir)
        self.device, self.dtype = torch.device(device), dtype
        self.max_new_tokens, self.sample = max_new_tokens, sample
        self._tokenizer = None
        self._model = None

    def _ensure_loaded(self) -> None:
        if self._model is not None:
            return
        if not (self.model_dir / "config.json").is_file():
            raise ModelFilesMissing(
                self.model_dir.parent,
                [self.model_dir.name + "/"],
                "Emotion descriptions need the Qwen3 text-to-emotion model "
                "(qwen0.6bemo4-merge from IndexTeam/IndexTTS-2); install it with the model "
                "downloader, or use emotion sliders or a reference clip instead.",
            )
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self._tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
        self._model = AutoModelForCausalLM.from_pretrained(
            self.model_dir, local_files_only=True, dtype=self.dtype
        ).to(self.device)
        self._model.eval()

    def reply(self, text: str) -> str:
        """The model's decoded answer for an emotion description (after any </think>)."""
        self._ensure_loaded()
        tok, model = self._tokenizer, self._model
        messages = [{"role": "system", "content": QWEN_PROMPT}, {"role": "user", "content": text}]
        prompt = tok.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True, enable_thinking=False
        )
        inputs = tok([prompt], return_tensors="pt").to(self.device)
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.max_new_tokens,
            "pad_token_id": tok.eos_token_id,
        }
        if not self.sample:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            out = model.generate(**inputs, **kwargs)
        ids = out[0][inputs["input_ids"].shape[1] :].tolist()
        think_end = tok.convert_tokens_to_ids("</think>")
        if not isinstance(think_end, int) or think_end == tok.unk_token_id:
            think_end = THINK_END_ID
        try:
            start = len(ids) - ids[::-1].index(think_end)
        except ValueError:
            start = 0
        return tok.decode(ids[start:], skip_special_tokens=True)

    def read(self, text: str) -> EmotionReading:
        """Emotion description -> EmotionReading (weights, and whether calm was a fallback)."""
        if not text.strip():
            raise ValueError("an emotion text needs a description")
        return read_emotion_reply(self.reply(text), text)

    def to_vector(self, text: str) -> list[float]:
        """Emotion description -> 8 weights in EMOTION_NAMES order, each in [0, 1.2]."""
        return self.read(text).weights

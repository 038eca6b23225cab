"""Emotion vectors: 8-weight mixing (parity with emotion/), UI normalisation, and the Qwen3
text-to-emotion path with a tiny random Qwen3 and a tokenizer built here."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from models.contract import ModelFilesMissing
from models.emotion import (
    EMOTION_BIAS,
    EmotionMatrices,
    TextEmotion,
    normalize_weights,
    parse_emotion_reply,
    read_emotion_reply,
    scale_weights,
    vector_to_emovec,
)
from models.parity import run_stage


def test_emotion_parity_stage(reference_dir: Path) -> None:
    results = run_stage(reference_dir, "emotion")
    assert results and all(c.passed for c in results), [c for c in results if not c.passed]


def test_matrices_load_from_checkpoint_files(reference_dir: Path) -> None:
    base = reference_dir / "e2e" / "checkpoints"
    mats = EmotionMatrices.load(base / "feat1.pt", base / "feat2.pt", [2, 3, 1, 2, 2, 1, 3, 2])
    assert [g.shape[0] for g in mats.spk] == [2, 3, 1, 2, 2, 1, 3, 2]
    with pytest.raises(ValueError, match="rows"):
        EmotionMatrices.load(base / "feat1.pt", base / "feat2.pt", [2, 3, 1, 2, 2, 1, 3, 3])


def test_zero_weights_keep_the_voice_and_one_hot_picks_a_row(reference_dir: Path) -> None:
    base = reference_dir / "e2e" / "checkpoints"
    mats = EmotionMatrices.load(base / "feat1.pt", base / "feat2.pt", [2, 3, 1, 2, 2, 1, 3, 2])
    style, voice = torch.randn(1, 192), torch.randn(1, 64)
    assert torch.allclose(vector_to_emovec([0.0] * 8, style, mats, voice), voice)
    sims = torch.nn.functional.cosine_similarity(style, mats.spk[1], dim=1)
    angry = vector_to_emovec([0, 1, 0, 0, 0, 0, 0, 0], style, mats, voice)
    assert torch.allclose(angry, mats.emo[1][int(sims.argmax())][None])


def test_scale_and_normalize_weights() -> None:
    assert scale_weights([0.35, 0.1], 0.6) == [0.21, 0.06]
    assert scale_weights([0.123456], 0.5) == [0.0617]  # truncated, not rounded
    assert scale_weights([0.3], 1.0) == [0.3]
    w = normalize_weights([1, 1, 1, 1, 1, 1, 1, 1])
    assert sum(w) == pytest.approx(0.8)
    biased = [b for b in EMOTION_BIAS]
    assert [x / w[2] for x in w] == pytest.approx(biased)  # proportional to the bias
    small = normalize_weights([0.1, 0, 0, 0, 0, 0, 0, 0.2])
    assert small == pytest.approx([0.09375, 0, 0, 0, 0, 0, 0, 0.1125])  # under the cap: bias only


@pytest.mark.parametrize(
    ("reply", "text", "expected"),
    [
        ('{"高兴": 0.5, "愤怒": 0.2}', "x", [0.5, 0.2, 0, 0, 0, 0, 0, 0]),
        ('高兴: 0.7, "惊讶": 0.3 ...', "x", [0.7, 0, 0, 0, 0, 0, 0.3, 0]),  # not JSON: pairs
        ('{"emotion": "angry"}', "x", [0, 1, 0, 0, 0, 0, 0, 0]),
        ('"sad"', "x", [0, 0, 1, 0, 0, 0, 0, 0]),
        ('{"高兴": 5, "恐惧": -1}', "x", [1.2, 0, 0, 0, 0, 0, 0, 0]),  # clamped to [0, 1.2]
        ('{"悲伤": 0.9}', "I feel so gloomy", [0, 0, 0, 0, 0, 0.9, 0, 0]),  # melancholic swap
        ("no idea", "x", [0, 0, 0, 0, 0, 0, 0, 1.0]),  # nothing: calm
        # Review fixes (not in the official parser):
        ("高兴", "x", [1, 0, 0, 0, 0, 0, 0, 0]),  # bare unquoted label
        (" angry\n", "x", [0, 1, 0, 0, 0, 0, 0, 0]),
        ('{"emotion": "愤怒"}', "so gloomy", [0, 1, 0, 0, 0, 0, 0, 0]),  # label, then swap
        ('"悲伤"', "so gloomy", [0, 0, 0, 0, 0, 1, 0, 0]),  # official: crashes
        ("高兴：0.9，悲伤：0.3", "x", [0.9, 0, 0.3, 0, 0, 0, 0, 0]),  # full-width marks
        ('{"happy": 0.9, "Sad": 0.2}', "x", [0.9, 0, 0.2, 0, 0, 0, 0, 0]),  # English keys
        ("happy: 0.4, surprised: 0.5.", "x", [0.4, 0, 0, 0, 0, 0, 0.5, 0]),
        ('{"高兴": NaN, "愤怒": 0.3}', "x", [0, 0.3, 0, 0, 0, 0, 0, 0]),  # NaN is 0, not 1.2
        ('{"高兴": Infinity, "恐惧": 0.1}', "x", [0, 0, 0, 0.1, 0, 0, 0, 0]),
        ('{"高兴": "0.6"}', "x", [0.6, 0, 0, 0, 0, 0, 0, 0]),  # numeric strings, as official
    ],
)
def test_parse_emotion_reply(reply: str, text: str, expected: list[float]) -> None:
    assert parse_emotion_reply(reply, text) == pytest.approx(expected)
    reading = read_emotion_reply(reply, text)
    assert reading.weights == parse_emotion_reply(reply, text)
    assert reading.fallback == (expected == [0, 0, 0, 0, 0, 0, 0, 1.0])


CALM = [0, 0, 0, 0, 0, 0, 0, 1.0]


@pytest.mark.parametrize(
    "reply",
    [
        '{"高兴": [1]}',
        '{"高兴": "high"}',
        '{"高兴": 1.1.1}',
        "高兴: 1.1.1, 悲伤: 0.3",
        "高兴：abc",
        '{"高兴": NaN}',
        "[1, 2]",
        "null",
        "",
        "I cannot tell",
    ],
)
def test_unusable_replies_fall_back_to_calm_visibly(reply: str) -> None:
    """Malformed or non-numeric scores no longer fail the request (the official parser
    raises): the reading is calm, flagged as a fallback, with a note saying why."""
    for text in ("x", "so gloomy"):
        reading = read_emotion_reply(reply, text)
        assert reading.weights == pytest.approx(CALM)
        assert reading.fallback and reading.note and "calm" in reading.note


def test_a_real_reading_is_not_a_fallback() -> None:
    reading = read_emotion_reply('{"自然": 0.7}', "x")
    assert reading.weights == pytest.approx([0, 0, 0, 0, 0, 0, 0, 0.7])
    assert not reading.fallback and reading.note is None


def test_missing_qwen_folder_errors_only_when_used(tmp_path: Path) -> None:
    te = TextEmotion(tmp_path / "qwen0.6bemo4-merge")  # constructing is fine
    with pytest.raises(ModelFilesMissing, match="qwen0.6bemo4-merge"):
        te.to_vector("angry")


CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n"
    "{% if enable_thinking is defined and enable_thinking is false %}<think>\n\n</think>\n\n{% endif %}"
    "{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_qwen(tmp_path_factory) -> Path:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast, Qwen3Config, Qwen3ForCausalLM

    folder = tmp_path_factory.mktemp("qwen0.6bemo4-merge")
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<think>", "</think>"]
    vocab = {s: i for i, s in enumerate(specials + sorted(alphabet))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(specials)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token=None
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(folder)
    cfg = Qwen3Config(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        head_dim=16,
        max_position_embeddings=256,
        eos_token_id=vocab["<|im_end|>"],
    )
    torch.manual_seed(0)
    Qwen3ForCausalLM(cfg).save_pretrained(folder)
    return folder


def test_qwen_text_to_vector(tiny_qwen: Path) -> None:
    te = TextEmotion(tiny_qwen, max_new_tokens=12)
    text = "他非常生气，还有一点害怕"
    vec = te.to_vector(text)
    assert len(vec) == 8 and all(0.0 <= v <= 1.2 for v in vec)
    assert vec == te.to_vector(text)  # greedy: one text, one vector
    assert vec == parse_emotion_reply(te.reply(text), text)
    assert te.read(text).weights == vec
    # The official prompt: system "文本情感分类", the description as the user turn.
    prompt = te._tokenizer.apply_chat_template(
        [{"role": "system", "content": "文本情感分类"}, {"role": "user", "content": text}],
        tokenize=False,
        add_generation_prompt=True,
        enable_thinking=False,
    )
    assert "文本情感分类" in prompt and prompt.endswith("</think>\n\n")


def test_qwen_reply_is_parsed_after_think(tiny_qwen: Path, monkeypatch) -> None:
    """Whatever precedes the last </think> is dropped, as the official parser does."""
    te = TextEmotion(tiny_qwen, max_new_tokens=4)
    te._ensure_loaded()
    tok = te._tokenizer
    answer = tok("noise</think>" + json.dumps({"愤怒": 0.8}, ensure_ascii=False))["input_ids"]

    def fake_generate(input_ids, **kwargs):
        return torch.cat((input_ids, torch.tensor([answer])), dim=1)

    monkeypatch.setattr(te._model, "generate", fake_generate)
    assert te.to_vector("rage") == pytest.approx([0, 0.8, 0, 0, 0, 0, 0, 0])

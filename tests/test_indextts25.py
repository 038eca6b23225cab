"""IndexTTS-2.5 parts: vocabulary, front-end, strict loading, codec rates, duration rules,
folder layout and registry, and every parity stage of the 2.5 reference set."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import torch

from models.config import load_config
from models.contract import ModelFilesDamaged, ModelFilesMissing
from models.indextts25 import codec as codec25
from models.indextts25.duration import LengthPlan25, codes_for, release_frames
from models.indextts25.files import VOCAB_FILE, indextts25_root, is_indextts25_folder, locate25
from models.indextts25.gpt import LANGUAGE_ROWS, T2S25
from models.indextts25.text import TextFrontEnd25, apply_annotations, apply_case
from models.indextts25.tokenizer import (
    VocabularyError,
    lang_to_token,
    load_encoding,
    read_ranks,
    special_tokens,
)
from models.t2s.loading import CheckpointMismatch

REPO = Path(__file__).resolve().parents[1]


def _find_reference25() -> Path | None:
    env = os.environ.get("DUBSMITH_REFERENCE25")
    candidates = [Path(env)] if env else []
    candidates += [REPO.parent / "shared" / "reference25", REPO / "shared" / "reference25"]
    for c in candidates:
        if (c / "README.md").exists() and (c / "checkpoints" / "codec.pth").is_file():
            return c
    return None


@pytest.fixture(scope="session")
def ref25() -> Path:
    found = _find_reference25()
    if found is None:
        pytest.fail(
            "2.5 reference fixtures not found: expected ../shared/reference25 or DUBSMITH_REFERENCE25"
        )
    return found


@pytest.fixture(scope="session")
def front(ref25: Path) -> TextFrontEnd25:
    return TextFrontEnd25(ref25 / "checkpoints" / VOCAB_FILE, max_text_tokens=80, normalize=False)


# ---- vocabulary ------------------------------------------------------------------------------
def test_specials_follow_the_ranks_in_the_official_order(ref25: Path) -> None:
    enc = load_encoding(ref25 / "checkpoints" / VOCAB_FILE)
    specials = special_tokens()
    assert len(specials) == 1673
    assert enc.n_vocab == 957 + 1673
    assert enc.encode("<|endoftext|>", allowed_special="all") == [957]
    assert enc.encode("<|ja|>", allowed_special="all") == [957 + 2 + 7]
    # yue has a language id (99) but no special token: the specials stop after 99 codes.
    assert "<|yue|>" not in specials and lang_to_token("yue") == 99
    assert lang_to_token("zhen") == lang_to_token("xx") == 105 == LANGUAGE_ROWS - 2


def test_a_vocabulary_with_a_gap_in_its_ranks_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / VOCAB_FILE
    bad.write_text("IQ== 0\nIg== 2\n")  # ranks 0 and 2: 1 is missing
    with pytest.raises(VocabularyError, match="0..1"):
        read_ranks(bad)


# ---- front-end -------------------------------------------------------------------------------
def test_case_rules_per_language() -> None:
    assert apply_case("Hola Señor", "es") == "HOLA SEÑOR"
    assert apply_case("XUAN4 Hello", "zh") == "xuan4 hello"
    assert apply_case("ＡＢＣ", "ja") == "ａｂｃ"
    assert apply_case("مرحبا ABC", "ar") == "مرحبا ABC"


def test_pronunciation_annotations() -> None:
    assert apply_annotations("<行|XING2>人") == "<|SPECIAL_TOKEN_2|>XING2<|SPECIAL_TOKEN_2|>人"
    assert apply_annotations("<going|g ow1>") == "<|SPECIAL_TOKEN_1|>G OW1<|SPECIAL_TOKEN_1|>"
    assert apply_annotations("<行|いく>ぞ") == " いく ぞ"


def test_japanese_is_split_into_morphemes_and_gets_its_language_token(front) -> None:
    p = front.prepare("今日は良い天気ですね。", "ja")
    assert p.segments == ["今日 は 良い 天気 です ね ."]
    assert p.ids[0][0] == front.encode("<|ja|>")[0] and p.ids[0][-1] == 1
    assert p.lang_id == 7


def test_long_text_splits_within_the_budget_and_keeps_annotations_whole(front) -> None:
    text = (
        "uno, dos, tres, cuatro, cinco. " * 6
        + "<|SPECIAL_TOKEN_1|>AH B C D<|SPECIAL_TOKEN_1|> fin."
    )
    p = front.prepare(text, "es", max_tokens=16)
    budget = front.budget(16, "<|es|> ")
    assert len(p.segments) > 2
    assert all(front.token_count(s) <= budget or "SPECIAL" in s for s in p.segments)
    assert "".join(p.segments) == p.text  # every piece exactly once
    assert any("<|SPECIAL_TOKEN_1|>AH B C D<|SPECIAL_TOKEN_1|>" in s for s in p.segments)


# ---- strict loading --------------------------------------------------------------------------
def test_gpt_load_names_missing_and_misshaped_keys(ref25: Path, tmp_path: Path) -> None:
    ck = ref25 / "checkpoints"
    cfg = load_config(ck / "config.yaml").gpt
    sd = torch.load(ck / "gpt.pth", weights_only=True)
    del sd["lang_embedding.weight"]
    sd["spk_emb_proj.weight"] = torch.zeros(64, 191)
    sd["speed_emb.weight"] = torch.zeros(2, 64)  # a 2.0 key
    bad = tmp_path / "gpt.pth"
    torch.save(sd, bad)
    with pytest.raises(CheckpointMismatch) as err:
        T2S25.load(bad, cfg)
    message = str(err.value)
    assert "lang_embedding.weight" in message
    assert "spk_emb_proj.weight (64, 191) != (64, 192)" in message
    assert "speed_emb.weight" in message


def test_a_20_gpt_is_not_a_25_gpt() -> None:
    ref20 = REPO.parent / "shared" / "reference" / "checkpoints"
    if not (ref20 / "gpt.pth").is_file():
        pytest.skip("no 2.0 reference set beside this one")
    cfg = load_config(ref20 / "config.yaml").gpt
    with pytest.raises(CheckpointMismatch, match="spk_emb_proj"):
        T2S25.load(ref20 / "gpt.pth", cfg)


def test_codec_load_names_keys_and_runs_at_25_per_second(ref25: Path, tmp_path: Path) -> None:
    ck = ref25 / "checkpoints"
    cfg = load_config(ck / "config.yaml").raw["semantic_codec"]
    codec = codec25.EnhancedCodec.load(ck / "codec.pth", cfg)
    for frames in (21, 30, 150):
        codes, quantized = codec.quantize(torch.randn(1, frames, 32))
        assert codes.shape == (1, (frames + 1) // 2)
        assert codec.decode(codes).shape == (1, 2 * codes.shape[1], 32)
    state = torch.load(ck / "codec.pth", weights_only=True)
    del state["model"]["down.weight"]
    torch.save(state, tmp_path / "codec.pth")
    with pytest.raises(CheckpointMismatch, match="down.weight"):
        codec25.EnhancedCodec.load(tmp_path / "codec.pth", cfg)


# ---- duration --------------------------------------------------------------------------------
def test_release_frame_rule_and_exact_plan() -> None:
    # The reference README's figures: N=14 -> 48 frames at 1.0, 38 at 0.8; N=22 -> 75.
    assert release_frames(14) == 48 and release_frames(14, 0.8) == 38 and release_frames(22) == 75
    assert codes_for(2.0) == 50  # half of 2.0's 100 tokens
    plan = LengthPlan25.for_duration(1.37)
    assert (plan.codes, plan.frames, plan.samples) == (34, 118, 30209)
    with pytest.raises(ValueError):
        LengthPlan25.for_duration(0.0)


# ---- folders ---------------------------------------------------------------------------------
def test_missing_files_are_all_named(tmp_path: Path) -> None:
    with pytest.raises(ModelFilesMissing) as err:
        locate25(tmp_path).check()
    for name in ("indextts25/codec.pth", VOCAB_FILE, "hf_cache/bigvgan/bigvgan_generator.pt"):
        assert name in str(err.value)
    assert "download_models.py indextts25" in str(err.value)


def _copy25(ref25: Path, dst: Path, shared: bool = True) -> Path:
    folder = dst / "indextts25"
    shutil.copytree(
        ref25 / "checkpoints", folder, ignore=None if shared else shutil.ignore_patterns("hf_cache")
    )
    return folder


def test_shared_parts_come_from_the_indextts2_folder(ref25: Path, tmp_path: Path) -> None:
    _copy25(ref25, tmp_path, shared=False)
    shutil.copytree(ref25 / "checkpoints" / "hf_cache", tmp_path / "indextts2" / "hf_cache")
    files = locate25(tmp_path).check()
    assert files.root == tmp_path / "indextts25"
    assert files.bigvgan == tmp_path / "indextts2" / "hf_cache" / "bigvgan"


def test_a_cut_vocabulary_is_damaged(ref25: Path, tmp_path: Path) -> None:
    folder = _copy25(ref25, tmp_path)
    vocab = folder / VOCAB_FILE
    lines = vocab.read_text().splitlines()
    vocab.write_text("\n".join(lines[:100] + lines[101:]) + "\n")
    with pytest.raises(ModelFilesDamaged, match=VOCAB_FILE):
        locate25(tmp_path).check()


def test_a_25_folder_is_recognised_and_not_taken_for_a_20_one(ref25: Path) -> None:
    from models.layout import indextts2_root

    ck = ref25 / "checkpoints"
    assert is_indextts25_folder(ck) and indextts25_root(ck) == ck
    assert indextts2_root(ck) == ck / "indextts2"  # 2.0 is not installed there


def test_models_listing_finds_the_25_folder(ref25: Path, tmp_path: Path) -> None:
    from core.models.installed import status

    (tmp_path / "indextts25").symlink_to(ref25 / "checkpoints", target_is_directory=True)
    entry = {s.name: s for s in status(tmp_path)}["indextts25"]
    assert entry.state == "installed", entry


def test_registry_entry(ref25: Path, tmp_path: Path) -> None:
    from models.registry import ENGINES

    entry = ENGINES["indextts25"]
    caps = entry.capabilities(ref25 / "checkpoints")
    assert caps.languages == ("zh", "en", "ja", "es", "ar")
    assert caps.duration_control.value == "exact"
    entry.check(ref25 / "checkpoints")
    with pytest.raises(ModelFilesMissing):
        entry.check(tmp_path)


# ---- parity ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "stage", ["keys", "text", "gpt", "codec", "emotion", "campplus", "mel", "s2m", "vocoder"]
)
def test_parity_stage(ref25: Path, stage: str) -> None:
    from models.parity import run_stage, stages_for

    assert stage in stages_for(ref25)
    checks = run_stage(ref25, stage)
    bad = [f"{c.name}: {c.max_abs_diff} {c.detail}" for c in checks if not c.passed]
    assert checks and not bad, bad


@pytest.mark.slow
def test_parity_e2e(ref25: Path) -> None:
    from models.parity import run_stage

    checks = run_stage(ref25, "e2e")
    bad = [f"{c.name}: {c.max_abs_diff} {c.detail}" for c in checks if not c.passed]
    assert len(checks) > 40 and not bad, bad


def test_the_parity_command_knows_the_25_set_by_its_layout(ref25: Path) -> None:
    import subprocess
    import sys

    def parity(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "models.parity", str(ref25), *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=600,
        )

    ok = parity("--stages", "codec")
    assert ok.returncode == 0 and "[PASS] codec" in ok.stdout, ok.stdout + ok.stderr
    wrong = parity("--stages", "semantic")  # a 2.0 stage: the 2.5 set has `codec` instead
    assert wrong.returncode == 2 and "known: keys, text, gpt, codec" in wrong.stdout

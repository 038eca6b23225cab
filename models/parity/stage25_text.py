"""Stage `text` of the 2.5 set: every case of DIR/text/cases.json through TextFrontEnd25
(intermediate strings, segments, ids with the stop id, language id), and the tokenizer
facts of DIR/text/manifest.json (special ids, vocabulary size, language rows)."""

from __future__ import annotations

import json
from pathlib import Path

from models.config import load_config
from models.indextts25.text import TextFrontEnd25
from models.indextts25.tokenizer import VOCAB_FILE, lang_to_token
from models.parity import Check, exact

STAGE = "text"
# cases.json field -> our step name
STEPS = {
    "normalize_out": "normalized",
    "annotation_in": "cased",
    "annotation_out": "annotated",
    "ja_g2p_out": "morphemes",
    "final_text": "final",
}


def _same(name: str, got, want) -> Check:
    """Exact equality; the detail names both values only when they differ."""
    return exact(STAGE, name, got == want, "" if got == want else f"{got!r} != {want!r}")


def run(root: Path) -> list[Check]:
    root = Path(root)
    cases = json.loads((root / "text" / "cases.json").read_text(encoding="utf-8"))
    facts = json.loads((root / "text" / "manifest.json").read_text(encoding="utf-8"))["tokenizer"]
    vocab = root / "checkpoints" / VOCAB_FILE
    max_text = load_config(root / "checkpoints" / "config.yaml").gpt.max_text_tokens
    fronts = {
        flag: TextFrontEnd25(vocab, max_text, normalize=flag, improved_english=False)
        for flag in (True, False)
    }
    enc = fronts[False].encoding
    checks = [_same("n_vocab", enc.n_vocab, facts["n_vocab"])]
    for tok, want in facts["special_ids"].items():
        checks.append(_same(f"special {tok}", enc.encode(tok, allowed_special="all"), [want]))
    for lang, want in facts["lang_to_token"].items():
        checks.append(_same(f"lang_to_token {lang}", lang_to_token(lang), want))
    for case in cases:
        name = case["id"]
        front = fronts[bool(case["text_normalization"])]
        prepared = front.prepare(case["text"], case["lang"], case["split_budget_max_tokens"])
        for field, step in STEPS.items():
            if case.get(field) is not None:
                checks.append(_same(f"{name} {field}", prepared.steps[step], case[field]))
        checks.append(_same(f"{name} segments", prepared.segments, case["segments"]))
        checks.append(_same(f"{name} ids", prepared.ids, case["segment_ids_padded"]))
        checks.append(_same(f"{name} lang_id", prepared.lang_id, case["lang_id"]))
    return checks

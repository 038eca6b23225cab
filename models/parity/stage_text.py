"""Stage `text`: our front-end against the official TextNormalizer + TextTokenizer results in
DIR/text/cases.json, run on DIR/checkpoints/bpe.model. Every recorded field of every case is
compared exactly; one Check per case and field.

Without the normaliser package the stage still checks the tokenizer, fed with the recorded
normalised text, and reports the missing normaliser as one failed check.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from models.parity import Check, exact
from models.text import TextFrontEnd, split_cjk_chars
from models.text_normalize import NormalizerUnavailable, uses_chinese_branch

STAGE = "text"
SEGMENT_LIMITS = (120, 20)


def _first_difference(ours: Any, expected: Any) -> str:
    if isinstance(ours, list) and isinstance(expected, list):
        for i, (a, b) in enumerate(zip(ours, expected, strict=False)):
            if a != b:
                return f"first difference at [{i}]: {a!r} != {b!r} (lengths {len(ours)}, {len(expected)})"
        return f"lengths {len(ours)} != {len(expected)}"
    return f"{ours!r} != {expected!r}"


def _field(case_id: str, name: str, ours: Any, expected: Any) -> Check:
    ok = ours == expected
    return exact(STAGE, f"{case_id}/{name}", ok, "" if ok else _first_difference(ours, expected))


def _case_checks(front: TextFrontEnd, case: dict[str, Any], normalizer_ok: bool) -> list[Check]:
    cid, text = case["id"], case["text"]
    checks: list[Check] = []
    if normalizer_ok:
        tokenized = front.encode(text)
        # A single character skips normalisation inside encode; the fixture still records
        # what the normaliser makes of it.
        normalized = front.normalize(text) if case["bypasses_normalizer"] else tokenized.normalized
        checks.append(_field(cid, "normalized", normalized, case["normalized"]))
    else:
        # Tokenizer-only parity: start from the official normaliser's output.
        normalized = case["normalized"]
        tokenized = front.encode(text if case["bypasses_normalizer"] else normalized)
    if case.get("use_chinese") is not None:
        checks.append(_field(cid, "use_chinese", uses_chinese_branch(text), case["use_chinese"]))
    checks.append(_field(cid, "cjk_split", split_cjk_chars(normalized), case["cjk_split"]))
    checks.append(_field(cid, "tokens", tokenized.pieces, case["tokens"]))
    checks.append(_field(cid, "ids", tokenized.ids, case["ids"]))
    checks.append(_field(cid, "unk_count", len(tokenized.unknown), case["unk_count"]))
    for limit in SEGMENT_LIMITS:
        key = f"segments_{limit}"
        if key not in case:
            continue
        # Split the recorded tokens so a tokenizer mismatch is not counted twice.
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            segments = front.split_segments(case["tokens"], max_tokens=limit)
        checks.append(_field(cid, key, segments, case[key]))
        if f"{key}_ids" in case:
            seg_ids = [front.pieces_to_ids(s) for s in segments]
            checks.append(_field(cid, f"{key}_ids", seg_ids, case[f"{key}_ids"]))
        if limit == 20 and "split_warnings" in case:
            n_warn = sum(issubclass(w.category, RuntimeWarning) for w in caught)
            checks.append(_field(cid, "split_warnings_count", n_warn, len(case["split_warnings"])))
    return checks


def run(root: Path) -> list[Check]:
    root = Path(root)
    cases = json.loads((root / "text" / "cases.json").read_text(encoding="utf-8"))
    manifest = json.loads((root / "text" / "manifest.json").read_text(encoding="utf-8"))
    bpe = root / "checkpoints" / "bpe.model"
    checks: list[Check] = []
    try:
        front = TextFrontEnd(bpe, normalize=True, improved_english=False)
        normalizer_ok = True
        backend = front.normalizer_backend
        checks.append(
            exact(
                STAGE,
                "normalizer",
                backend == "wetextprocessing",
                f"backend {backend}: the reference used WeTextProcessing 1.0.4.1",
            )
        )
    except NormalizerUnavailable as exc:
        checks.append(exact(STAGE, "normalizer", False, str(exc)))
        front = TextFrontEnd(bpe, normalize=False)
        normalizer_ok = False
    spec = manifest.get("bpe", {})
    ours = {
        "vocab_size": front.vocab_size,
        "bos_id": front.bos_id,
        "eos_id": front.eos_id,
        "unk_id": front.unk_id,
    }
    for name, value in ours.items():
        if name in spec:
            checks.append(_field("bpe", name, value, spec[name]))
    for case in cases:
        checks.extend(_case_checks(front, case, normalizer_ok))
    return checks

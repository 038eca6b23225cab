"""Key check for T2S against the FULL-SIZE UnifiedVoice key list (DIR/keys/gpt_unifiedvoice.json).

Our T2S is built from DIR/keys/config.yaml on the meta device (no memory, no init). Its state
dict, with the GPT-2 Conv1D weights in the checkpoint's input-major layout, must have exactly
the same keys, shapes and dtypes, and the same parameter and buffer totals.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from models.config import load_config
from models.parity import Check, exact
from models.t2s.loading import check_keys, checkpoint_shapes
from models.t2s.model import T2S

STAGE = "keys"


def checks(root: Path) -> list[Check]:
    root = Path(root)
    spec = json.loads((root / "keys" / "gpt_unifiedvoice.json").read_text())
    cfg = load_config(root / "keys" / "config.yaml").gpt
    with torch.device("meta"):
        model = T2S(cfg)
    expected = {e["key"]: tuple(e["shape"]) for e in spec["state_dict"]}
    ours = checkpoint_shapes(model)
    problems = check_keys(expected, ours)
    out = [exact(STAGE, "gpt keys and shapes", not problems, "; ".join(problems))]
    dtypes = {e["key"]: e["dtype"] for e in spec["state_dict"]}
    state = model.state_dict()
    wrong_dtype = [
        k
        for k, d in dtypes.items()
        if k in state and str(state[k].dtype).removeprefix("torch.") != d
    ]
    out.append(exact(STAGE, "gpt dtypes", not wrong_dtype, ", ".join(wrong_dtype[:5])))
    params = sum(p.numel() for p in model.parameters())
    buffers = sum(b.numel() for b in model.buffers())
    out.append(
        exact(
            STAGE,
            "gpt parameter total",
            params == spec["total_parameters"],
            f"{params} vs {spec['total_parameters']}",
        )
    )
    out.append(
        exact(
            STAGE,
            "gpt buffer total",
            buffers == spec["total_buffer_elements"],
            f"{buffers} vs {spec['total_buffer_elements']}",
        )
    )
    return out

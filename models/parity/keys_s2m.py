"""Key checks for the full-size S2M and BigVGAN: our modules, built on the meta device from
DIR/keys/config.yaml (S2M) and from the recorded BigVGAN config, must have exactly the keys,
shapes and dtypes of the official state dicts listed in DIR/keys/s2mel_mymodel.json (per
top-level module: cfm, length_regulator, gpt_layer) and bigvgan_v2_22khz_80band_256x.json
(the weight-norm layout stored in bigvgan_generator.pt)."""

from __future__ import annotations

import contextlib
import io
import json
import warnings
from pathlib import Path

import torch

from models.parity import Check, exact
from models.s2m.config import S2MConfig
from models.s2m.model import S2M

STAGE = "keys"


def _table(entries: list[dict]) -> dict[str, tuple[tuple[int, ...], str]]:
    return {e["key"]: (tuple(e["shape"]), e["dtype"]) for e in entries}


def _ours(module: torch.nn.Module) -> dict[str, tuple[tuple[int, ...], str]]:
    return {
        k: (tuple(v.shape), str(v.dtype).removeprefix("torch."))
        for k, v in module.state_dict().items()
    }


def _diff(name: str, ours: dict, ref: dict) -> Check:
    missing = sorted(set(ref) - set(ours))
    extra = sorted(set(ours) - set(ref))
    shapes = sorted(k for k in set(ours) & set(ref) if ours[k] != ref[k])
    ok = not (missing or extra or shapes)
    detail = ""
    if not ok:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} e.g. {missing[:3]}")
        if extra:
            parts.append(f"unexpected {len(extra)} e.g. {extra[:3]}")
        if shapes:
            parts.append(
                f"shape/dtype {len(shapes)} e.g. {[(k, ours[k], ref[k]) for k in shapes[:2]]}"
            )
        detail = "; ".join(parts)
    return exact(STAGE, name, ok, detail or f"{len(ref)} keys")


def checks(root: Path) -> list[Check]:
    keys = Path(root) / "keys"
    out: list[Check] = []

    ref = json.loads((keys / "s2mel_mymodel.json").read_text(encoding="utf-8"))
    cfg = S2MConfig.from_yaml(keys / "config.yaml")
    with torch.device("meta"):
        s2m = S2M(cfg)
    total = 0
    for name, entry in ref["modules"].items():
        module = getattr(s2m, name, None)
        if module is None:
            out.append(exact(STAGE, f"s2mel.{name}", False, "no such module"))
            continue
        out.append(_diff(f"s2mel.{name}", _ours(module), _table(entry["state_dict"])))
        n = sum(p.numel() for p in module.parameters())
        total += n
        out.append(
            exact(
                STAGE,
                f"s2mel.{name}.parameters",
                n == entry["total_parameters"],
                f"{n} vs {entry['total_parameters']}",
            )
        )
    out.append(exact(STAGE, "s2mel.parameters", total == ref["total_parameters"], f"{total}"))

    voc = json.loads((keys / "bigvgan_v2_22khz_80band_256x.json").read_text(encoding="utf-8"))
    from bigvgan import BigVGAN
    from bigvgan.env import AttrDict

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.device("meta"):
            gen = BigVGAN(AttrDict(voc["h"]), use_cuda_kernel=False)
    out.append(
        _diff(
            "bigvgan.weight_norm", _ours(gen), _table(voc["checkpoint_state_dict_with_weight_norm"])
        )
    )
    n = sum(p.numel() for p in gen.parameters())
    out.append(
        exact(STAGE, "bigvgan.parameters", n == voc["total_parameters_with_weight_norm"], f"{n}")
    )
    # What models.vocoder runs: the same generator after remove_weight_norm().
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with contextlib.redirect_stdout(io.StringIO()):
            gen.remove_weight_norm()
    out.append(
        _diff("bigvgan.plain", _ours(gen), _table(voc["state_dict_after_remove_weight_norm"]))
    )
    return out

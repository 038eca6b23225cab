"""Which number format each stage of the engine computes in, chosen from what the device
does fast, and the helpers that store weights once in that format.

    plan = plan_precision(torch.device("cpu"), "auto")   # PrecisionPlan, with its reasons
    plan.t2s, plan.s2m, plan.vocoder                      # torch dtypes per stage

Measured facts the rules follow (bench/engine.py --precision prints them again):
- CPUs with AMX or AVX-512 BF16: a bf16 matrix product with bf16 weights is 4-5x fp32 at
  700 rows (the flow model's frames). At one row (a decode step, memory bound) fp16 weights
  are faster still (0.22 ms against bf16 0.32 and fp32 0.63 for 1280x4096, AVX-512 BF16).
  So the decoder's weights are stored in fp16 for decode steps and cast to bf16 for wide
  products (prefill, latent pass); the conditioning encoders and the flow model (DiT) are
  stored in bf16.
- CPUs without them (AVX2, e.g. AMD Zen 3): half-precision products are emulated; at 700
  rows bf16 is 6x and fp16 5x *slower* than fp32, but at one row (memory bound: the decoder
  reads ~1.9 GB of fp32 weights per step) fp16 weights are 2.2x and bf16 1.7x faster. So
  the decoder's weights are stored in fp16 and used as such for narrow products (decode
  steps), upcast per call for wide ones (prefill, latent pass); the flow model stays fp32.
- BigVGAN under bf16 ran 1.7x slower than fp32 on the CPU: it stays fp32 everywhere, as the
  official code keeps it.
- CUDA: bf16 where supported, else fp16, for the T2S decoder and the flow model.
Activations, norms, softmax and the KV cache stay fp32 on the CPU: only the matrix products
of the big linear layers run in the stored format (see `linear`).
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

log = logging.getLogger(__name__)

CHOICES = ("auto", "fp32", "bf16", "fp16")
DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
# Without native half kernels, products of more rows than this upcast the weight instead
# (measured on a 2-core AVX2 CPU: fp16 beats fp32 up to ~16 rows of a 1280x4096 layer).
EMULATED_NARROW_ROWS = 16


def dtype_name(dtype: torch.dtype) -> str:
    return {v: k for k, v in DTYPES.items()}[dtype]


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU feature flags of /proc/cpuinfo (empty where there is none: macOS, Windows)."""
    try:
        text = Path("/proc/cpuinfo").read_text(errors="replace")
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_fast_bf16(flags: frozenset[str] | None = None, capability: str | None = None) -> bool:
    """True where the CPU multiplies bf16 natively (AMX tiles or AVX-512 BF16)."""
    flags = cpu_flags() if flags is None else flags
    if capability is None:
        capability = torch.backends.cpu.get_cpu_capability()
    return bool({"amx_bf16", "avx512_bf16"} & flags) or "AMX" in capability.upper()


@dataclass(frozen=True)
class PrecisionPlan:
    """The dtype of each stage's weights and products, and why it was chosen."""

    t2s: torch.dtype = torch.float32  # the GPT decoder's linear layers and mel head
    s2m: torch.dtype = torch.float32  # the flow model's estimator (DiT + WaveNet)
    vocoder: torch.dtype = torch.float32  # BigVGAN
    # Products of more rows than this cast the half weights to `t2s_wide` per call (half
    # kernels that pay only while memory bound); None: half products at any width.
    t2s_narrow_rows: int | None = None
    reasons: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    t2s_wide: torch.dtype = torch.float32  # see t2s_narrow_rows
    # The T2S conditioning encoders (once per voice and emotion clip; 1.2 GB fp32).
    t2s_conditioning: torch.dtype = torch.float32

    @property
    def is_fp32(self) -> bool:
        return self.t2s == self.s2m == self.vocoder == torch.float32

    def label(self) -> str:
        """A short description that changes whenever the audio could: engine identity."""
        if self.is_fp32:
            return "torch.float32"
        narrow = f"<={self.t2s_narrow_rows}" if self.t2s_narrow_rows is not None else ""
        if narrow and self.t2s_wide != torch.float32:
            narrow += f"+{dtype_name(self.t2s_wide)}"
        if self.t2s_conditioning != torch.float32:
            narrow += f",cond={dtype_name(self.t2s_conditioning)}"
        return (
            f"t2s={dtype_name(self.t2s)}{narrow},s2m={dtype_name(self.s2m)},"
            f"vocoder={dtype_name(self.vocoder)}"
        )

    def describe(self) -> str:
        """One line for the user: what runs in what, and why."""
        t2s = f"T2S {dtype_name(self.t2s)}"
        if self.t2s_narrow_rows is not None:
            t2s += f" (wide products {dtype_name(self.t2s_wide)})"
        if self.t2s_conditioning != torch.float32:
            t2s += f", T2S conditioning {dtype_name(self.t2s_conditioning)}"
        parts = [
            t2s,
            f"flow model {dtype_name(self.s2m)}",
            f"vocoder {dtype_name(self.vocoder)}",
        ]
        why = "; ".join(self.reasons.values())
        return ", ".join(parts) + (f" ({why})" if why else "")


def parse_choice(choice: str | torch.dtype | None) -> str:
    if choice is None:
        return "auto"
    if isinstance(choice, torch.dtype):
        if choice not in DTYPES.values():
            raise ValueError(f"unsupported dtype {choice} (fp32, fp16 or bf16)")
        return dtype_name(choice)
    aliases = {"float32": "fp32", "float16": "fp16", "bfloat16": "bf16", "half": "fp16"}
    name = aliases.get(str(choice).lower(), str(choice).lower())
    if name not in CHOICES:
        raise ValueError(f"unknown precision {choice!r}: auto, fp32, bf16 or fp16")
    return name


def plan_precision(
    device: torch.device | str,
    choice: str | torch.dtype | None = "auto",
    *,
    cpu_fast_bf16: bool | None = None,
    cuda_bf16: bool | None = None,
) -> PrecisionPlan:
    """The plan for `device`. `choice` auto picks per stage from the hardware; fp32 keeps
    everything fp32 (parity); bf16 / fp16 put the T2S decoder and the flow model in that
    format wherever they run (even where it is slower: the editor asked), the vocoder stays
    fp32. The keyword arguments override hardware detection (tests)."""
    device = torch.device(device)
    name = parse_choice(choice)
    if name == "fp32":
        return PrecisionPlan(reasons={"all": "fp32 asked"})
    if device.type == "cuda":
        if cuda_bf16 is None:
            cuda_bf16 = torch.cuda.is_available() and torch.cuda.is_bf16_supported()
        if name == "auto":
            half = torch.bfloat16 if cuda_bf16 else torch.float16
            why = "CUDA with bf16" if cuda_bf16 else "CUDA without bf16: fp16"
        else:
            half, why = DTYPES[name], f"{name} asked"
            if half == torch.bfloat16 and not cuda_bf16:
                half, why = torch.float16, "bf16 asked but this GPU lacks it: fp16"
        return PrecisionPlan(half, half, torch.float32, None, {"gpu": why})
    if device.type != "cpu":  # MPS and others: what the official code does, fp32
        return PrecisionPlan(reasons={"all": f"{device.type}: fp32"})
    fast = cpu_has_fast_bf16() if cpu_fast_bf16 is None else cpu_fast_bf16
    if name == "auto":
        if fast:
            # Decode steps are one-row products, memory bound: fp16 weights streamed by the
            # fp16 GEMV ran them 1.7x faster than bf16 here (28 vs 48 ms a step at full
            # size); wide products (prefill, latent pass) go through bf16, which is 14x
            # faster than fp16 at 700 rows on AVX-512 BF16.
            return PrecisionPlan(
                torch.float16,
                torch.bfloat16,
                torch.float32,
                EMULATED_NARROW_ROWS,
                {
                    "cpu": "CPU with AVX-512 BF16: fp16 decode steps, bf16 wide products, "
                    "conditioning and flow model"
                },
                t2s_wide=torch.bfloat16,
                t2s_conditioning=torch.bfloat16,
            )
        return PrecisionPlan(
            torch.float16,
            torch.float32,
            torch.float32,
            EMULATED_NARROW_ROWS,
            {"cpu": "CPU without native bf16: fp16 decoder weights, fp32 flow model"},
        )
    half = DTYPES[name]
    narrow = None if fast and half == torch.bfloat16 else EMULATED_NARROW_ROWS
    why = f"{name} asked" + ("" if fast else " (emulated on this CPU: the flow model is slower)")
    wide = torch.bfloat16 if fast else torch.float32
    return PrecisionPlan(half, half, torch.float32, narrow, {"cpu": why}, t2s_wide=wide)


# ---- weights stored once in the compute dtype ---------------------------------------------
def store_linear_weights(module: nn.Module, dtype: torch.dtype) -> int:
    """Cast the weights and biases of every nn.Linear under `module` to `dtype`, in place
    (the fp32 tensors are freed, not kept beside). Returns the number of layers cast."""
    count = 0
    for layer in module.modules():
        if isinstance(layer, nn.Linear) and layer.weight.dtype != dtype:
            with torch.no_grad():
                layer.weight = nn.Parameter(layer.weight.detach().to(dtype), requires_grad=False)
                if layer.bias is not None:
                    layer.bias = nn.Parameter(layer.bias.detach().to(dtype), requires_grad=False)
            count += 1
    return count


def linear(
    x: Tensor, layer: nn.Linear, narrow_rows: int | None = None, wide: torch.dtype | None = None
) -> Tensor:
    """`layer(x)` with the activations kept in x's dtype and the product in the weight's.

    With `narrow_rows`, a product of more rows than that casts the weight for this call to
    `wide` (default: x's dtype): the stored format's kernels only pay off when memory bound."""
    w, b = layer.weight, layer.bias
    if w.dtype == x.dtype:
        return F.linear(x, w, b)
    rows = x.numel() // max(1, x.shape[-1])
    if narrow_rows is not None and rows > narrow_rows:
        wide = wide or x.dtype
        out = F.linear(x.to(wide), w.to(wide), None if b is None else b.to(wide))
        return out.to(x.dtype)
    return F.linear(x.to(w.dtype), w, b).to(x.dtype)


def snr_db(reference: Tensor, other: Tensor) -> float:
    """10 log10(|ref|^2 / |ref - other|^2) in dB over matching elements (inf if equal)."""
    ref = reference.detach().double().reshape(-1)
    oth = other.detach().double().reshape(-1)
    n = min(ref.numel(), oth.numel())
    ref, oth = ref[:n], oth[:n]
    noise = float((ref - oth).pow(2).sum())
    if noise == 0.0:
        return float("inf")
    return 10.0 * float(torch.log10(ref.pow(2).sum() / noise))

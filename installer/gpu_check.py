"""What the installer prints about the GPU: the torch build, CUDA and cuDNN it found, the
devices, and what to do when something is missing. Never fails the install (exit 0).

    .venv/bin/python installer/gpu_check.py
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys

TORCH_PAGE = "https://pytorch.org/get-started/locally/"


def _nvidia_smi() -> str | None:
    """The driver's own view (name, driver, memory), or None without an NVIDIA driver."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run(
            [exe, "--query-gpu=name,driver_version,memory.total", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20,
        )  # fmt: skip
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def report() -> list[str]:
    lines: list[str] = []
    try:
        import torch
    except Exception as exc:  # any import failure is the finding
        return [f"torch cannot be imported ({exc}); re-run the installer"]
    cuda = torch.version.cuda
    lines.append(f"torch {torch.__version__} ({'CUDA ' + cuda if cuda else 'CPU-only build'})")
    smi = _nvidia_smi()
    if smi:
        lines.append(f"NVIDIA driver sees: {smi}")
    if torch.cuda.is_available():
        cudnn = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
        lines.append(f"cuDNN {cudnn}" if cudnn else "cuDNN: not found")
        for i in range(torch.cuda.device_count()):
            p = torch.cuda.get_device_properties(i)
            lines.append(f"GPU {i}: {p.name}, {p.total_memory / 2**30:.1f} GiB")
        if not cudnn:
            lines.append(
                "  -> torch's CUDA wheels bring cuDNN with them (nvidia-cudnn-*): reinstall "
                "torch with the installer, or see " + TORCH_PAGE
            )
        lines.append("Dubsmith will use the GPU (--device auto picks CUDA).")
        return lines
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        lines.append("Apple GPU (MPS) available; Dubsmith runs on the CPU for now (--device auto).")
        return lines
    if smi and not cuda:
        lines.append(
            f"  -> this torch is a CPU-only build: install the CUDA build of torch "
            f"{torch.__version__.split('+')[0]} for your driver ({TORCH_PAGE})"
        )
    elif smi:
        lines.append(
            f"  -> torch was built for CUDA {cuda} but cannot use the GPU: update the NVIDIA "
            "driver (nvidia-smi's header names the newest CUDA it supports), or install the "
            f"torch build for an older CUDA ({TORCH_PAGE})"
        )
    elif platform.system() in ("Linux", "Windows"):
        lines.append(
            "  -> no NVIDIA GPU driver found (nvidia-smi): with an NVIDIA GPU, install its "
            "driver, then run this check again"
        )
    lines.append("Dubsmith will run on the CPU (it works, much more slowly).")
    return lines


def main() -> int:
    print(">> GPU check")
    for line in report():
        print(f"   {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

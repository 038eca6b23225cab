#!/usr/bin/env bash
# Prepares the official IndexTTS2 side of the issue 13 side-by-side (bench/official.py):
#   1. a separate venv (python3.11) with our torch/torchaudio and the official inference
#      dependencies pinned as the reference fixtures ran them (shared/reference/README.md);
#   2. the official source at the reference commit, extracted from a mirror or clone.
# Nothing is fetched at bench run time; bench/official.py only reads what this leaves.
#
# Usage: bench/official_setup.sh MIRROR_GIT_DIR [VENV_DIR] [SRC_DIR]
#   MIRROR_GIT_DIR  a bare mirror or a clone of index-tts/index-tts (its .git dir or root)
#   VENV_DIR        default /tmp/official/venv
#   SRC_DIR         default /tmp/official/src
set -euo pipefail

MIRROR=${1:?usage: official_setup.sh MIRROR_GIT_DIR [VENV_DIR] [SRC_DIR]}
VENV=${2:-/tmp/official/venv}
SRC=${3:-/tmp/official/src}
COMMIT=ee40fa7d6c6b8a2c7f06105f9f1e65775b74868c
PYTHON=${PYTHON:-python3.11}

if [ -d "$MIRROR/.git" ]; then MIRROR="$MIRROR/.git"; fi
G=(git --git-dir="$MIRROR")

# --- source -------------------------------------------------------------------------------
# A partial mirror may lack a few large blobs (a demo video, an unused pitch model): extract
# every path whose blob is present and name the ones left out.
mkdir -p "$SRC"
missing=()
while IFS=$'\t' read -r meta path; do
    blob=${meta##* }
    if ! "${G[@]}" cat-file -e "$blob" 2>/dev/null; then missing+=(":(exclude)$path"); fi
done < <("${G[@]}" ls-tree -r "$COMMIT")
for m in "${missing[@]}"; do echo "official_setup: blob absent in the mirror, skipped: ${m#:(exclude)}"; done
"${G[@]}" archive "$COMMIT" -- . "${missing[@]}" | tar -x -C "$SRC"
test -f "$SRC/indextts/infer_v2.py"
echo "official_setup: source at $COMMIT in $SRC"

# --- venv ---------------------------------------------------------------------------------
# torch/torchaudio are ours (the local wheels pip finds); the rest are the official uv.lock
# pins the reference fixtures used. Only the inference path is installed: whisper, audiotools,
# argbind and modelscope are replaced by stand-ins inside bench/official.py, and the text
# normaliser (WeTextProcessing) by a pass-through, as in the reference run.
PKGS=(
    torch==2.14.1 torchaudio==2.11.1
    transformers==4.52.1 tokenizers==0.21.0 huggingface-hub==0.35.0 safetensors==0.5.2
    numpy==2.2.6 librosa==0.10.2.post1 soxr==1.0.0 numba==0.63.0 soundfile
    sentencepiece==0.2.1 omegaconf pyyaml einops munch==4.0.0 scipy tqdm matplotlib==3.10.0
)
(
    flock 9
    if [ ! -x "$VENV/bin/python" ]; then "$PYTHON" -m venv "$VENV"; fi
    "$VENV/bin/python" -m pip install -q "${PKGS[@]}"
) 9>/tmp/dubsmith-pip.lock
"$VENV/bin/python" - <<'EOF'
import torch, torchaudio, transformers, librosa, safetensors, numpy
print("official_setup: venv ok:", "torch", torch.__version__, "torchaudio", torchaudio.__version__,
      "transformers", transformers.__version__, "librosa", librosa.__version__,
      "safetensors", safetensors.__version__, "numpy", numpy.__version__)
EOF

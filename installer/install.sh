#!/usr/bin/env bash
# Dubsmith installer for Debian/Ubuntu (and any Linux with python3.11).
#   installer/install.sh                  install into .venv, then check the GPU
#   installer/install.sh --dev            also install the development extras (tests, lint)
#   installer/install.sh --models         also download the required models (about 8 GB)
#   installer/install.sh --models=all     ... every model; or a list: --models=required,pyannote
#   installer/install.sh --model-dir DIR  where the models go (default: DUBSMITH_MODEL_DIR,
#                                         else the user data folder, ~/.local/share/Dubsmith/models)
#   installer/install.sh --gpu-check      only check the GPU (torch, CUDA, cuDNN)
# Gated models (pyannote) need a Hugging Face token: HF_TOKEN, else asked for (hidden input)
# when run in a terminal. HF_ENDPOINT names a mirror. Idempotent: re-running only installs
# what is missing, and an interrupted model download continues where it stopped.
set -euo pipefail

DEV=0
MODELS=""
MODEL_DIR="${DUBSMITH_MODEL_DIR:-}"
GPU_ONLY=0
while (($#)); do
  case "$1" in
    --dev) DEV=1 ;;
    --models) MODELS="required" ;;
    --models=*) MODELS="${1#--models=}" ;;
    --model-dir) shift; MODEL_DIR="${1:?--model-dir needs a folder}" ;;
    --model-dir=*) MODEL_DIR="${1#--model-dir=}" ;;
    --gpu-check) GPU_ONLY=1 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${DUBSMITH_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3.11}"

if [ "$GPU_ONLY" = 1 ]; then
  exec "$VENV/bin/python" installer/gpu_check.py
fi

# --- system packages -------------------------------------------------------
# ffmpeg: probe/extract/mux; espeak-ng: the demo's sample video and test media; sox: test
# media; the rest: Qt runtime (offscreen and Xvfb) and libpulse for QtMultimedia.
APT_PACKAGES=(ffmpeg espeak-ng sox libsndfile1 libegl1 libgl1 libxkbcommon0 libfontconfig1
  libdbus-1-3 libglib2.0-0 libpulse0 xvfb xauth libxcb-icccm4 libxcb-keysyms1
  libxcb-cursor0 libxkbcommon-x11-0 libxcb-xinerama0 libxcb-randr0 libxcb-render-util0
  libxcb-image0 libxcb-shape0)
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for p in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
fi
if ((${#missing[@]})); then
  echo ">> installing system packages: ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# --- python environment ----------------------------------------------------
if [ ! -x "$VENV/bin/python" ]; then
  echo ">> creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip)
"${PIP[@]}" install -q --upgrade pip wheel setuptools

# torch, torchaudio and torchcodec must come as a matching set: these three
# releases were tried together (pyannote.audio 4 needs torchcodec).
TORCH_SET=("torch==2.14.1" "torchaudio==2.11.*" "torchcodec==0.17.*")
echo ">> installing ${TORCH_SET[*]}"
"${PIP[@]}" install -q "${TORCH_SET[@]}"

TARGET="."
[ "$DEV" = 1 ] && TARGET=".[dev]"
echo ">> installing dubsmith ($TARGET)"
"${PIP[@]}" install -q -e "$TARGET" "${TORCH_SET[@]}"
# VoxCPM2's package without its web UI / training / hub dependencies (pyproject.toml lists
# what its inference imports).
"${PIP[@]}" install -q --no-deps "voxcpm==2.0.3"

# --- GPU -------------------------------------------------------------------
# Prints the torch / CUDA / cuDNN found and what to do when something is missing; a
# machine without a GPU still gets a working (slower) install.
"$VENV/bin/python" installer/gpu_check.py || true

# --- models ----------------------------------------------------------------
if [ -n "$MODELS" ]; then
  read -r -a names <<<"${MODELS//,/ }"
  where=()
  [ -n "$MODEL_DIR" ] && where=(--model-dir "$MODEL_DIR")
  # Ask for a token only when a chosen model is gated and none is set.
  gated="$("$VENV/bin/python" installer/download_models.py --list-gated "${names[@]}")"
  if [ -n "$gated" ] && [ -z "${HF_TOKEN:-}" ]; then
    echo ">> gated model(s) chosen; they need a Hugging Face access token:"
    while read -r name repo; do
      echo "   $name: accept its conditions at ${HF_ENDPOINT:-https://huggingface.co}/$repo"
    done <<<"$gated"
    if [ -t 0 ]; then
      echo "   (create a token at https://huggingface.co/settings/tokens; empty: skip them)"
      read -r -s -p "   Hugging Face token: " HF_TOKEN
      echo
      [ -n "$HF_TOKEN" ] && export HF_TOKEN
    else
      echo "   not a terminal: set HF_TOKEN to fetch them" >&2
    fi
  fi
  echo ">> downloading models: ${names[*]}"
  # The token travels in the environment, never on a command line (ps would show it).
  "$VENV/bin/python" installer/download_models.py "${names[@]}" "${where[@]}"
  echo ">> models ready. Try: $VENV/bin/dubsmith demo"
fi

echo ">> done. Activate with: source $VENV/bin/activate"

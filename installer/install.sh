#!/usr/bin/env bash
# Dubsmith installer for Debian/Ubuntu (and any Linux with python3.11).
#   installer/install.sh          install into .venv
#   installer/install.sh --dev    also install the development extras (tests, lint)
# Idempotent: re-running only installs what is missing.
set -euo pipefail

DEV=0
for arg in "$@"; do
  case "$arg" in
    --dev) DEV=1 ;;
    -h|--help) sed -n '2,5p' "$0"; exit 0 ;;
    *) echo "install.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="${DUBSMITH_VENV:-$ROOT/.venv}"
PYTHON="${PYTHON:-python3.11}"

# --- system packages -------------------------------------------------------
# ffmpeg: probe/extract/mux; espeak-ng + sox: test media; the rest: Qt runtime
# (offscreen and Xvfb) and libpulse for QtMultimedia.
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

echo ">> done. Activate with: source $VENV/bin/activate"

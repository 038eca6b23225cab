<#
.SYNOPSIS
  Dubsmith installer for Windows: the same steps as installer/install.sh.

.DESCRIPTION
  installer\install.ps1                          install into .venv, then check the GPU
  installer\install.ps1 -Dev                     also the development extras (tests, lint)
  installer\install.ps1 -Models required         also download the required models (about 8 GB)
  installer\install.ps1 -Models all              every model; or a list: -Models required,pyannote
  installer\install.ps1 -ModelDir D:\models      where the models go (default: DUBSMITH_MODEL_DIR,
                                                 else %LOCALAPPDATA%\Dubsmith\models)
  installer\install.ps1 -TorchIndex https://download.pytorch.org/whl/cu128
                                                 where torch comes from (PyPI's Windows torch is
                                                 CPU-only: with an NVIDIA GPU take the CUDA index
                                                 that https://pytorch.org/get-started/locally/ names)
  installer\install.ps1 -GpuCheck                only check the GPU (torch, CUDA, cuDNN)

  Gated models (pyannote) need a Hugging Face token: $env:HF_TOKEN, else asked for (hidden
  input). $env:HF_ENDPOINT names a mirror. Re-running only installs what is missing, and an
  interrupted model download continues where it stopped.

  Run from PowerShell (if scripts are blocked: powershell -ExecutionPolicy Bypass -File
  installer\install.ps1).
#>
param(
    [switch]$Dev,
    [string]$Models = "",
    [string]$ModelDir = $env:DUBSMITH_MODEL_DIR,
    [string]$TorchIndex = "",
    [switch]$GpuCheck
)

$ErrorActionPreference = "Stop"
$Root = Split-Path -Parent $PSScriptRoot
Set-Location $Root
$Venv = if ($env:DUBSMITH_VENV) { $env:DUBSMITH_VENV } else { Join-Path $Root ".venv" }
$Py = Join-Path $Venv "Scripts\python.exe"

function Invoke-Checked {
    # Run a program; stop the install when it fails (PowerShell does not, by itself).
    param([string]$Exe, [string[]]$Arguments)
    & $Exe @Arguments
    if ($LASTEXITCODE -ne 0) {
        throw "$Exe $($Arguments -join ' ') failed (exit $LASTEXITCODE)"
    }
}

if ($GpuCheck) {
    & $Py installer\gpu_check.py
    exit 0
}

# --- system tools ------------------------------------------------------------
# ffmpeg: probe/extract/mux (required); espeak-ng: the demo's sample video and test media.
$HaveWinget = [bool](Get-Command winget -ErrorAction SilentlyContinue)
if (-not (Get-Command ffmpeg -ErrorAction SilentlyContinue)) {
    if ($HaveWinget) {
        Write-Host ">> installing ffmpeg (winget)"
        winget install --id Gyan.FFmpeg -e --accept-source-agreements --accept-package-agreements
        Write-Host "   open a new PowerShell afterwards so that ffmpeg is on PATH"
    } else {
        Write-Warning "ffmpeg is not on PATH: install it (https://ffmpeg.org/download.html) and add its bin folder to PATH"
    }
}
if (-not (Get-Command espeak-ng -ErrorAction SilentlyContinue)) {
    Write-Warning ("espeak-ng is not on PATH; only ``dubsmith demo`` and the tests need it: " +
        "install it from https://github.com/espeak-ng/espeak-ng/releases")
}

# --- python environment ------------------------------------------------------
if (-not (Test-Path $Py)) {
    Write-Host ">> creating $Venv"
    if (Get-Command py -ErrorAction SilentlyContinue) {
        Invoke-Checked py @("-3.11", "-m", "venv", $Venv)
    } elseif (Get-Command python3.11 -ErrorAction SilentlyContinue) {
        Invoke-Checked python3.11 @("-m", "venv", $Venv)
    } else {
        throw "Python 3.11 was not found: install it from https://www.python.org/downloads/ (tick 'py launcher')"
    }
}
Invoke-Checked $Py @("-m", "pip", "install", "-q", "--upgrade", "pip", "wheel", "setuptools")

# torch, torchaudio and torchcodec must come as a matching set (see install.sh).
$TorchSet = @("torch==2.14.1", "torchaudio==2.11.*", "torchcodec==0.17.*")
Write-Host ">> installing $($TorchSet -join ' ')"
$TorchArgs = @("-m", "pip", "install", "-q") + $TorchSet
if ($TorchIndex) { $TorchArgs += @("--index-url", $TorchIndex) }
Invoke-Checked $Py $TorchArgs

$Target = if ($Dev) { ".[dev]" } else { "." }
Write-Host ">> installing dubsmith ($Target)"
$PipArgs = @("-m", "pip", "install", "-q", "-e", $Target) + $TorchSet
if ($TorchIndex) { $PipArgs += @("--extra-index-url", $TorchIndex) }
Invoke-Checked $Py $PipArgs

# --- GPU ---------------------------------------------------------------------
& $Py installer\gpu_check.py

# --- models ------------------------------------------------------------------
if ($Models) {
    $Names = $Models -split "[,\s]+" | Where-Object { $_ }
    $Where = @()
    if ($ModelDir) { $Where = @("--model-dir", $ModelDir) }
    # Ask for a token only when a chosen model is gated and none is set.
    $Gated = & $Py installer\download_models.py --list-gated @Names
    if ($LASTEXITCODE -ne 0) { exit 2 }
    if ($Gated -and -not $env:HF_TOKEN) {
        Write-Host ">> gated model(s) chosen; they need a Hugging Face access token:"
        $HubHost = if ($env:HF_ENDPOINT) { $env:HF_ENDPOINT } else { "https://huggingface.co" }
        foreach ($line in @($Gated)) {
            $name, $repo = $line -split " ", 2
            Write-Host "   ${name}: accept its conditions at $HubHost/$repo"
        }
        if ([Environment]::UserInteractive -and -not [Console]::IsInputRedirected) {
            Write-Host "   (create a token at https://huggingface.co/settings/tokens; empty: skip them)"
            $Secure = Read-Host "   Hugging Face token" -AsSecureString
            $Bstr = [Runtime.InteropServices.Marshal]::SecureStringToBSTR($Secure)
            try {
                $Token = [Runtime.InteropServices.Marshal]::PtrToStringBSTR($Bstr)
            } finally {
                [Runtime.InteropServices.Marshal]::ZeroFreeBSTR($Bstr)
            }
            # The token travels in the environment, never on a command line.
            if ($Token) { $env:HF_TOKEN = $Token }
        } else {
            Write-Warning "not interactive: set HF_TOKEN to fetch them"
        }
    }
    Write-Host ">> downloading models: $($Names -join ' ')"
    Invoke-Checked $Py (@("installer\download_models.py") + $Names + $Where)
    Write-Host ">> models ready. Try: $Venv\Scripts\dubsmith.exe demo"
}

Write-Host ">> done. Activate with: $Venv\Scripts\Activate.ps1"

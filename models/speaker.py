"""Speaker style: Kaldi fbank + CAMPPlus (the 192-d style vector IndexTTS2 feeds its S2M).

Public API (used by models/indextts2/engine.py):

    kaldi_fbank(audio_16k, subtract_mean=True) -> Tensor [T, 80]
        80-bin Kaldi fbank (dither 0, 16 kHz, Povey window, snip edges), minus its
        mean over time, exactly as infer_v2 feeds CAMPPlus.

    SpeakerStyle.load(campplus_bin, device="cpu") -> SpeakerStyle
    SpeakerStyle(audio_16k, batched=None) -> Tensor [B, 192] (float32)
        audio_16k: one mono 16 kHz waveform (1-D np.ndarray / Tensor) or a sequence of
        them. `batched=True` runs several prompts as one zero-padded batch with length
        masks; each row equals what the prompt alone gives (within float rounding).
        `batched=None` (default) batches on an accelerator and loops on the CPU.
    SpeakerStyle.from_fbank(feats [B, T, 80], lengths [B] | None) -> [B, 192]

    CAMPPlus(feat_dim=80, embedding_size=192): the 3D-Speaker network with the official
    state-dict names (loads campplus_cn_common.bin strictly). Its forward takes an optional
    `lengths` so padded batches give the same result as single prompts: every temporal
    convolution sees zeros past an utterance's end (as zero padding does for a single
    one), and every mean/std/segment pooling counts only valid frames.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
import torchaudio.compliance.kaldi as kaldi
from torch import Tensor, nn

from models.layout import read_torch

SAMPLE_RATE = 16000
NUM_MEL_BINS = 80
STYLE_DIM = 192

AudioBatch = np.ndarray | Tensor | Sequence[np.ndarray | Tensor]


def kaldi_fbank(audio_16k: np.ndarray | Tensor, subtract_mean: bool = True) -> Tensor:
    """[T, 80] log-mel fbank of one mono 16 kHz waveform, as the official code computes it."""
    if isinstance(audio_16k, Tensor):
        wave = audio_16k.detach().to("cpu", torch.float32)
    else:
        wave = torch.from_numpy(np.ascontiguousarray(audio_16k, dtype=np.float32))
    wave = wave.reshape(1, -1)
    feats = kaldi.fbank(wave, num_mel_bins=NUM_MEL_BINS, dither=0.0, sample_frequency=SAMPLE_RATE)
    if subtract_mean:
        feats = feats - feats.mean(dim=0, keepdim=True)
    return feats


def _as_waves(audio: AudioBatch) -> list[np.ndarray | Tensor]:
    if isinstance(audio, (np.ndarray, Tensor)) and audio.ndim == 1:
        return [audio]
    if isinstance(audio, (np.ndarray, Tensor)) and audio.ndim == 2:
        return list(audio)  # rows of equal length
    return list(audio)


def _length_mask(lengths: Tensor, size: int) -> Tensor:
    """[B, size] float mask, 1 where the frame index is below the row's length."""
    return (torch.arange(size, device=lengths.device)[None, :] < lengths[:, None]).float()


# --------------------------------------------------------------------------- layers
# Module and attribute names follow 3D-Speaker's CAMPPlus so the official state dict
# loads strictly.


def _nonlinear(config_str: str, channels: int) -> nn.Sequential:
    seq = nn.Sequential()
    for name in config_str.split("-"):
        if name == "relu":
            seq.add_module("relu", nn.ReLU())
        elif name == "batchnorm":
            seq.add_module("batchnorm", nn.BatchNorm1d(channels))
        elif name == "batchnorm_":
            seq.add_module("batchnorm", nn.BatchNorm1d(channels, affine=False))
        else:
            raise ValueError(f"unexpected nonlinearity {name!r}")
    return seq


def _masked(x: Tensor, mask: Tensor | None) -> Tensor:
    return x if mask is None else x * mask


class BasicResBlock(nn.Module):
    """2-D residual block of the FCM head; strides only along frequency, never time."""

    def __init__(self, in_planes: int, planes: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=(stride, 1), padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.shortcut = nn.Sequential()
        if stride != 1 or in_planes != planes:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=(stride, 1), bias=False),
                nn.BatchNorm2d(planes),
            )

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        out = _masked(F.relu(self.bn1(self.conv1(x))), mask)
        out = self.bn2(self.conv2(out)) + self.shortcut(x)
        return _masked(F.relu(out), mask)


class FCM(nn.Module):
    """Front-end convolution module: [B, F, T] fbank -> [B, 32 * F/8, T]."""

    def __init__(
        self,
        m_channels: int = 32,
        feat_dim: int = NUM_MEL_BINS,
        num_blocks: tuple[int, int] = (2, 2),
    ):
        super().__init__()
        self.conv1 = nn.Conv2d(1, m_channels, 3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(m_channels)
        self.layer1 = nn.ModuleList(
            [
                BasicResBlock(m_channels, m_channels, 2 if i == 0 else 1)
                for i in range(num_blocks[0])
            ]
        )
        self.layer2 = nn.ModuleList(
            [
                BasicResBlock(m_channels, m_channels, 2 if i == 0 else 1)
                for i in range(num_blocks[1])
            ]
        )
        self.conv2 = nn.Conv2d(m_channels, m_channels, 3, stride=(2, 1), padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(m_channels)
        self.out_channels = m_channels * (feat_dim // 8)

    def forward(self, x: Tensor, mask: Tensor | None) -> Tensor:
        m2 = None if mask is None else mask[:, None, None, :]  # [B, 1, 1, T]
        out = _masked(F.relu(self.bn1(self.conv1(_masked(x.unsqueeze(1), m2)))), m2)
        for block in (*self.layer1, *self.layer2):
            out = block(out, m2)
        out = _masked(F.relu(self.bn2(self.conv2(out))), m2)
        b, c, f, t = out.shape
        return out.reshape(b, c * f, t)


class TDNNLayer(nn.Module):
    def __init__(
        self, in_channels: int, out_channels: int, kernel_size: int, stride: int, config_str: str
    ):
        super().__init__()
        padding = (kernel_size - 1) // 2
        self.linear = nn.Conv1d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding, bias=False
        )
        self.nonlinear = _nonlinear(config_str, out_channels)

    def forward(self, x: Tensor) -> Tensor:
        return self.nonlinear(self.linear(x))


class CAMLayer(nn.Module):
    """Context-aware masking: a local conv gated by utterance- and segment-level context."""

    SEG_LEN = 100

    def __init__(
        self,
        bn_channels: int,
        out_channels: int,
        kernel_size: int,
        dilation: int,
        reduction: int = 2,
    ):
        super().__init__()
        padding = (kernel_size - 1) // 2 * dilation
        self.linear_local = nn.Conv1d(
            bn_channels, out_channels, kernel_size, padding=padding, dilation=dilation, bias=False
        )
        self.linear1 = nn.Conv1d(bn_channels, bn_channels // reduction, 1)
        self.linear2 = nn.Conv1d(bn_channels // reduction, out_channels, 1)

    def forward(self, x: Tensor, mask: Tensor | None, lengths: Tensor | None) -> Tensor:
        # x is already zero past each utterance's end (mask applied by the caller).
        y = self.linear_local(x)
        context = self._mean(x, lengths) + self._segment_mean(x, mask)
        gate = torch.sigmoid(self.linear2(F.relu(self.linear1(context))))
        return y * gate

    @staticmethod
    def _mean(x: Tensor, lengths: Tensor | None) -> Tensor:
        if lengths is None:
            return x.mean(-1, keepdim=True)
        return x.sum(-1, keepdim=True) / lengths.to(x.dtype)[:, None, None]

    def _segment_mean(self, x: Tensor, mask: Tensor | None) -> Tensor:
        """Mean over consecutive 100-frame segments, broadcast back to every frame.

        The last segment may be partial: the official avg_pool1d(ceil_mode=True) divides
        it by its in-range frame count; here "in range" means within the utterance.
        """
        t = x.shape[-1]
        if mask is None:
            seg = F.avg_pool1d(x, kernel_size=self.SEG_LEN, stride=self.SEG_LEN, ceil_mode=True)
        else:
            n_seg = -(-t // self.SEG_LEN)
            pad = n_seg * self.SEG_LEN - t
            sums = F.pad(x, (0, pad)).unflatten(-1, (n_seg, self.SEG_LEN)).sum(-1)
            counts = F.pad(mask, (0, pad)).unflatten(-1, (n_seg, self.SEG_LEN)).sum(-1)
            seg = sums / counts.clamp(min=1.0)
        return seg.repeat_interleave(self.SEG_LEN, dim=-1)[..., :t]


class CAMDenseTDNNLayer(nn.Module):
    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        bn_channels: int,
        kernel_size: int,
        dilation: int,
        config_str: str,
    ):
        super().__init__()
        self.nonlinear1 = _nonlinear(config_str, in_channels)
        self.linear1 = nn.Conv1d(in_channels, bn_channels, 1, bias=False)
        self.nonlinear2 = _nonlinear(config_str, bn_channels)
        self.cam_layer = CAMLayer(bn_channels, out_channels, kernel_size, dilation)

    def forward(self, x: Tensor, mask: Tensor | None, lengths: Tensor | None) -> Tensor:
        h = _masked(self.nonlinear2(self.linear1(self.nonlinear1(x))), mask)
        return _masked(self.cam_layer(h, mask, lengths), mask)


class CAMDenseTDNNBlock(nn.ModuleDict):
    """Densely connected CAM layers; keys tdnnd1..tdnndN as in the official state dict."""

    def __init__(
        self,
        num_layers: int,
        in_channels: int,
        out_channels: int,
        bn_channels: int,
        kernel_size: int,
        dilation: int,
        config_str: str,
    ):
        super().__init__()
        for i in range(num_layers):
            self[f"tdnnd{i + 1}"] = CAMDenseTDNNLayer(
                in_channels + i * out_channels,
                out_channels,
                bn_channels,
                kernel_size,
                dilation,
                config_str,
            )

    def forward(self, x: Tensor, mask: Tensor | None, lengths: Tensor | None) -> Tensor:
        for layer in self.values():
            x = torch.cat([x, layer(x, mask, lengths)], dim=1)
        return x


class TransitLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, config_str: str):
        super().__init__()
        self.nonlinear = _nonlinear(config_str, in_channels)
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.linear(self.nonlinear(x))


class DenseLayer(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, config_str: str):
        super().__init__()
        self.linear = nn.Conv1d(in_channels, out_channels, 1, bias=False)
        self.nonlinear = _nonlinear(config_str, out_channels)

    def forward(self, x: Tensor) -> Tensor:  # x: [B, C] pooled statistics
        return self.nonlinear(self.linear(x.unsqueeze(-1)).squeeze(-1))


class XVector(nn.Module):
    """The TDNN trunk; child names (tdnn, block1, transit1, ..., dense) match the checkpoint."""

    def __init__(
        self,
        in_channels: int,
        embedding_size: int,
        growth_rate: int,
        bn_size: int,
        init_channels: int,
        config_str: str,
    ):
        super().__init__()
        self.tdnn = TDNNLayer(in_channels, init_channels, 5, stride=2, config_str=config_str)
        channels = init_channels
        self.blocks: list[tuple[str, str]] = []
        for i, (num_layers, kernel_size, dilation) in enumerate(
            zip((12, 24, 16), (3, 3, 3), (1, 2, 2), strict=True), start=1
        ):
            block = CAMDenseTDNNBlock(
                num_layers,
                channels,
                growth_rate,
                bn_size * growth_rate,
                kernel_size,
                dilation,
                config_str,
            )
            self.add_module(f"block{i}", block)
            channels += num_layers * growth_rate
            self.add_module(f"transit{i}", TransitLayer(channels, channels // 2, config_str))
            channels //= 2
            self.blocks.append((f"block{i}", f"transit{i}"))
        self.out_nonlinear = _nonlinear(config_str, channels)
        self.dense = DenseLayer(channels * 2, embedding_size, "batchnorm_")

    def forward(self, x: Tensor, lengths: Tensor | None) -> Tensor:
        x = self.tdnn(x)
        mask = None
        if lengths is not None:
            lengths = (lengths - 1) // 2 + 1  # kernel 5, stride 2, padding 2
            mask = _length_mask(lengths, x.shape[-1])[:, None, :]
            x = x * mask
        for block_name, transit_name in self.blocks:
            x = getattr(self, block_name)(x, mask, lengths)
            x = _masked(getattr(self, transit_name)(x), mask)
        x = self.out_nonlinear(x)
        return self.dense(_stats_pool(x, mask, lengths))


def _stats_pool(x: Tensor, mask: Tensor | None, lengths: Tensor | None) -> Tensor:
    """[mean, unbiased std] over time -> [B, 2C]."""
    if mask is None or lengths is None:
        return torch.cat([x.mean(dim=-1), x.std(dim=-1, unbiased=True)], dim=-1)
    n = lengths.to(x.dtype)[:, None]
    mean = (x * mask).sum(-1) / n
    var = (((x - mean[..., None]) * mask) ** 2).sum(-1) / (n - 1).clamp(min=1.0)
    return torch.cat([mean, var.sqrt()], dim=-1)


class CAMPPlus(nn.Module):
    def __init__(
        self,
        feat_dim: int = NUM_MEL_BINS,
        embedding_size: int = STYLE_DIM,
        growth_rate: int = 32,
        bn_size: int = 4,
        init_channels: int = 128,
        config_str: str = "batchnorm-relu",
    ):
        super().__init__()
        self.head = FCM(feat_dim=feat_dim)
        self.xvector = XVector(
            self.head.out_channels, embedding_size, growth_rate, bn_size, init_channels, config_str
        )

    def forward(self, feats: Tensor, lengths: Tensor | None = None) -> Tensor:
        """feats [B, T, F] (zero past each length) -> [B, embedding_size]."""
        x = feats.transpose(1, 2)
        mask = None
        if lengths is not None:
            lengths = lengths.to(x.device)
            if bool((lengths == x.shape[-1]).all()):
                lengths = None  # nothing padded: take the official unmasked path
            else:
                mask = _length_mask(lengths, x.shape[-1])
        return self.xvector(self.head(x, mask), lengths)


# --------------------------------------------------------------------------- engine API


class SpeakerStyle:
    """CAMPPlus style vectors of 16 kHz prompts."""

    def __init__(self, model: CAMPPlus, device: torch.device):
        self.model = model
        self.device = device

    @classmethod
    def load(cls, campplus_bin: Path, device: str | torch.device = "cpu") -> SpeakerStyle:
        state = read_torch(Path(campplus_bin))
        model = CAMPPlus(feat_dim=NUM_MEL_BINS, embedding_size=STYLE_DIM)
        model.load_state_dict(state, strict=True)
        device = torch.device(device)
        return cls(model.to(device).eval(), device)

    @torch.inference_mode()
    def from_fbank(self, feats: Tensor, lengths: Tensor | None = None) -> Tensor:
        feats = feats.to(self.device, torch.float32)
        return self.model(feats, None if lengths is None else lengths.to(self.device)).float()

    @torch.inference_mode()
    def __call__(self, audio_16k: AudioBatch, batched: bool | None = None) -> Tensor:
        """Style rows [B, 192] for one prompt or several.

        batched=None runs several prompts as one padded batch on an accelerator and one by
        one on the CPU, where a batch is slower (measured 2-3x for 4 prompts on 2 cores:
        the head's activations fall out of cache). Both give the same rows.
        """
        fbanks = [kaldi_fbank(w) for w in _as_waves(audio_16k)]
        if batched is None:
            batched = self.device.type != "cpu"
        if not batched or len(fbanks) == 1:
            return torch.cat([self.from_fbank(f[None]) for f in fbanks])
        lengths = torch.tensor([f.shape[0] for f in fbanks])
        feats = nn.utils.rnn.pad_sequence(fbanks, batch_first=True)  # zero padding
        return self.from_fbank(feats, lengths)

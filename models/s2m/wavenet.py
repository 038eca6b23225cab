"""The WaveNet (WN) that forms the DiT's final layer, conditioned on a time embedding.

Key layout mirrors the checkpoint: each conv sits two levels deep (`in_layers.0.conv.conv.*`)
because the official code wraps a weight-normed Conv1d in NormConv1d inside SConv1d. SConv1d
ignores the `padding` it is given and reflect-pads by (kernel-1)*dilation itself.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from models.s2m.layers import WeightNormConv1d, reflect_pad


class _NormConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.conv = WeightNormConv1d(cin, cout, kernel, dilation)


class SConv1d(nn.Module):
    """Weight-normed conv with reflect 'same' padding (per-row lengths respected)."""

    def __init__(self, cin: int, cout: int, kernel: int, dilation: int = 1) -> None:
        super().__init__()
        self.conv = _NormConv(cin, cout, kernel, dilation)
        total = (kernel - 1) * dilation
        self.pad_right = total // 2
        self.pad_left = total - self.pad_right

    def forward(self, x: Tensor, lengths: Tensor | None = None) -> Tensor:
        if self.pad_left or self.pad_right:
            x = reflect_pad(x, self.pad_left, self.pad_right, lengths)
        return self.conv.conv(x)


class WaveNet(nn.Module):
    def __init__(
        self, hidden: int, kernel_size: int, dilation_rate: int, n_layers: int, gin: int
    ) -> None:
        super().__init__()
        if kernel_size % 2 != 1:
            raise ValueError("WaveNet kernel_size must be odd")
        self.hidden = hidden
        self.n_layers = n_layers
        self.cond_layer = SConv1d(gin, 2 * hidden * n_layers, 1)
        self.in_layers = nn.ModuleList(
            SConv1d(hidden, 2 * hidden, kernel_size, dilation_rate**i) for i in range(n_layers)
        )
        self.res_skip_layers = nn.ModuleList(
            SConv1d(hidden, 2 * hidden if i < n_layers - 1 else hidden, 1) for i in range(n_layers)
        )

    def forward(
        self, x: Tensor, x_mask: Tensor, g: Tensor, lengths: Tensor | None = None
    ) -> Tensor:
        """x [B, H, T], x_mask [B, 1, T], g [B, gin, 1] -> [B, H, T] (masked)."""
        output = torch.zeros_like(x)
        g = self.cond_layer(g)
        h = self.hidden
        for i in range(self.n_layers):
            x_in = self.in_layers[i](x, lengths)
            z = x_in + g[:, 2 * h * i : 2 * h * (i + 1), :]
            acts = torch.tanh(z[:, :h]) * torch.sigmoid(z[:, h:])
            res_skip = self.res_skip_layers[i](acts)
            if i < self.n_layers - 1:
                x = (x + res_skip[:, :h]) * x_mask
                output = output + res_skip[:, h:]
            else:
                output = output + res_skip
        return output * x_mask

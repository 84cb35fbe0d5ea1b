"""The audio-to-controller network: causal log-mel + emotion -> speech and expression curves at 60 fps.

Architecture (all causal; the look-ahead comes from training with targets delayed by
``lookahead_frames``, not from the network seeing the future)::

    features (B, T, n_mels) ++ emotion (B, T, 7)
      -> Linear -> GELU                                   (B, T, C)
      -> N residual causal dilated Conv1d blocks          state_conv{i}: last (k-1)*d frames of the block input
      -> [optional GRU (C -> H)                           state_gru: (1, B, H)]
      -> speech head:     [gru, conv, emotion] -> MLP -> mouth/jaw/tongue/cheekPuff channels
      -> expression head: [gru or conv, emotion] -> MLP -> brows, eyes (wide/squint), cheeks, nose
      -> sigmoid                                          curves (B, T, channels) in [0, 1]

The shipped configuration has no GRU (six blocks, dilations 1..32, receptive field 127 frames =
2.1 s): on this CPU a GRU layer made a training step 3-4x slower (its quality was not compared).
Every convolution/recurrent state is an explicit input and output, so the exported ONNX graph
streams: running a line in chunks with the state carried gives the same frames as one call.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import torch
from torch import nn

__all__ = ["ModelConfig", "A2C", "aperture"]


@dataclass(frozen=True)
class ModelConfig:
    n_mels: int = 40
    n_emotions: int = 7
    channels: tuple[str, ...] = ()
    speech_channels: tuple[str, ...] = ()
    """Output channels produced by the speech head (the rest come from the expression head)."""
    conv_channels: int = 128
    kernel: int = 3
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    gru_hidden: int = 128
    head_hidden: int = 128
    expr_hidden: int = 64

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> ModelConfig:
        kw = dict(d)
        for k in ("channels", "speech_channels", "dilations"):
            if k in kw:
                kw[k] = tuple(kw[k])  # type: ignore[arg-type]
        return cls(**kw)  # type: ignore[arg-type]


class CausalConv(nn.Module):
    """Residual block: y = x + GELU(conv(x)) over the state (last ctx frames) prepended to x."""

    def __init__(self, ch: int, kernel: int, dilation: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(ch, ch, kernel, dilation=dilation)
        self.ctx = (kernel - 1) * dilation
        self.act = nn.GELU()

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        full = torch.cat([state, x], dim=2)
        y = x + self.act(self.conv(full))
        return y, full[:, :, -self.ctx:]


@dataclass
class _Index:
    speech: list[int] = field(default_factory=list)
    expression: list[int] = field(default_factory=list)


class A2C(nn.Module):
    """Forward: (features, emotion, *states) -> (curves, *new_states). States in :attr:`state_names` order."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        self.config = config
        c = config
        self.inp = nn.Linear(c.n_mels + c.n_emotions, c.conv_channels)
        self.act = nn.GELU()
        self.blocks = nn.ModuleList([CausalConv(c.conv_channels, c.kernel, d) for d in c.dilations])
        self.gru = nn.GRU(c.conv_channels, c.gru_hidden, batch_first=True) if c.gru_hidden else None
        speech = [i for i, n in enumerate(c.channels) if n in set(c.speech_channels)]
        expression = [i for i, n in enumerate(c.channels) if n not in set(c.speech_channels)]
        self.speech_head = nn.Sequential(
            nn.Linear(c.gru_hidden + c.conv_channels + c.n_emotions, c.head_hidden), nn.GELU(),
            nn.Linear(c.head_hidden, len(speech)))
        self.expr_head = nn.Sequential(
            nn.Linear((c.gru_hidden or c.conv_channels) + c.n_emotions, c.expr_hidden), nn.GELU(),
            nn.Linear(c.expr_hidden, len(expression)))
        # output column order: concatenate the heads, then permute back to `channels` order
        order = speech + expression
        inverse = [order.index(i) for i in range(len(order))]
        self.register_buffer("perm", torch.tensor(inverse, dtype=torch.long), persistent=False)

    @property
    def state_names(self) -> list[str]:
        return [f"state_conv{i}" for i in range(len(self.blocks))] + (["state_gru"] if self.gru is not None else [])

    def initial_state(self, batch: int = 1) -> list[torch.Tensor]:
        c = self.config
        states = [torch.zeros(batch, c.conv_channels, b.ctx) for b in self.blocks]
        if self.gru is not None:
            states.append(torch.zeros(1, batch, c.gru_hidden))
        return states

    def forward(self, features: torch.Tensor, emotion: torch.Tensor,
                *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        logits, *new_states = self.logits(features, emotion, *states)
        return (torch.sigmoid(logits), *new_states)

    def logits(self, features: torch.Tensor, emotion: torch.Tensor,
               *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Like :meth:`forward`, before the sigmoid (training uses them for a cross-entropy term)."""
        x = torch.cat([features, emotion], dim=2)
        h = self.act(self.inp(x)).transpose(1, 2)  # (B, C, T)
        new_states = []
        for block, state in zip(self.blocks, states[: len(self.blocks)], strict=True):
            h, s = block(h, state)
            new_states.append(s)
        h = h.transpose(1, 2)  # (B, T, C)
        if self.gru is not None:
            g, gru_state = self.gru(h, states[-1])
            new_states.append(gru_state)
        else:
            g = h[:, :, :0]
        speech = self.speech_head(torch.cat([g, h, emotion], dim=2))
        expr = self.expr_head(torch.cat([g if self.gru is not None else h, emotion], dim=2))
        return (torch.index_select(torch.cat([speech, expr], dim=2), 2, self.perm), *new_states)

    def run(self, features: torch.Tensor, emotion: torch.Tensor) -> torch.Tensor:
        """Whole sequences from zero state."""
        return self.forward(features, emotion, *self.initial_state(features.shape[0]))[0]

    def run_logits(self, features: torch.Tensor, emotion: torch.Tensor) -> torch.Tensor:
        return self.logits(features, emotion, *self.initial_state(features.shape[0]))[0]


APERTURE_TERMS = ("jawOpen", "mouthClose", "mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft",
                  "mouthLowerDownRight")


def aperture(curves: torch.Tensor, channels: Sequence[str]) -> torch.Tensor:
    """The reference scorer's lip aperture: max(0, jawOpen - mouthClose) + 0.25 * mean(lip raise/lower)."""
    i = {n: channels.index(n) for n in APERTURE_TERMS}
    gap = torch.relu(curves[..., i["jawOpen"]] - curves[..., i["mouthClose"]])
    lips = (curves[..., i["mouthUpperUpLeft"]] + curves[..., i["mouthUpperUpRight"]]
            + curves[..., i["mouthLowerDownLeft"]] + curves[..., i["mouthLowerDownRight"]]) / 2.0
    return gap + 0.25 * lips

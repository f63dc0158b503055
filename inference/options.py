"""Choices the commands offer, kept free of heavy imports so that building the parser stays fast."""

DEVICES = ("auto", "cpu", "cuda", "mps")
TTA_MODES = ("none", "tencrop")
PRECISIONS = ("auto", "fp32", "int8")  # auto: bf16 where the hardware has it and parity holds; fp32: always;
# int8: ONNX Runtime on the CPU, quantized, where it agrees with torch fp32 within 0.02 on the first batch
BACKENDS = ("auto", "torch", "onnx")
BACKEND_HELP = (
    "auto: ONNX Runtime on the CPU where it agrees with torch within 1e-4 on the first batch, else torch;"
    " onnx: the same, CPU only; torch: always torch"
)
CHECKPOINT_KINDS = ("chexnet", "xrv")  # published checkpoint formats `model import` reads
STRATEGIES = ("scratch", "head", "finetune", "gradual")  # how `train` starts from a package

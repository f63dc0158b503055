"""The runtime's choices (device, test-time augmentation, precision, backend), free of heavy imports so that
building a parser stays fast."""

DEVICES = ("auto", "cpu", "cuda", "mps")
TTA_MODES = ("none", "tencrop")
PRECISIONS = ("fp32", "bf16", "int8")  # fp32, the default everywhere; bf16 (torch, hardware with native
# bf16) and int8 (ONNX Runtime on the CPU, quantized) only when asked, each where it agrees with torch fp32
# within 0.02 on the parity probe, else fp32
PRECISION_HELP = (
    "fp32 (default): reproducible; bf16 (torch, where the hardware has it) and int8 (ONNX Runtime, CPU):"
    " used only where they agree with fp32 within 0.02 on the parity probe, else fp32"
)
BACKENDS = ("auto", "torch", "onnx")
BACKEND_HELP = (
    "auto: ONNX Runtime on the CPU (the package's export, within 1e-4 of torch on the parity probe), else"
    " torch; onnx: ONNX Runtime only; torch: always torch (the training install)"
)

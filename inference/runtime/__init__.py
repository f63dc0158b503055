"""Running a model package: choosing a runtime (ONNX Runtime or torch) and a device, image to network
input, scores, heat maps, and the engine that runs scoring and heat maps in one worker thread."""

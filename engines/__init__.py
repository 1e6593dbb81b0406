"""Checkpoint -> ONNX -> TensorRT engines and the runners that execute them (not built yet)."""

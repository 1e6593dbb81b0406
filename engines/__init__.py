"""Checkpoint -> ONNX -> TensorRT FP16 engines, an engine cache, and the runners that execute them.

Never imports Qt or livegaze; imports torch (and the training package) only to export.
"""

"""Training utilities for lite's own demo detector (needs torch; imported only to train or export).

See :mod:`lite.train.demo_detector` for the model, its loss, checkpoints and ONNX export.
"""

"""Synthetic data for lite: procedurally generated scenes used to train and check the demo detector.

The generator lives in `lite.data.scenes`; it needs only numpy and OpenCV (no torch).
"""

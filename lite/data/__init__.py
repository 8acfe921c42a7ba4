"""Floor 2, data: images and frame sources in, results out.

Image loading and sources (`io`, `sources`), the result types (`detections`, `classifications`), model metadata
and sidecars (`metadata`), where outputs go (`outputs`), the overlapped stream (`stream`) and the COCO constants
(`coco`). Imports only `lite.core`.
"""

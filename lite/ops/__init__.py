"""Array operations around a detector: pre-processing (letterbox) and post-processing.

Import the submodules directly (``from lite.ops.letterbox import Letterbox``); this package
deliberately imports nothing so that ``import lite.ops`` stays cheap.
"""

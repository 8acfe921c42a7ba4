"""Floor 1, the ground: errors, argument checks, the one registry mechanism, files, progress, the cache folder.

Nothing here imports another part of lite; every other floor may import it.
"""

"""Pixels to faces: decoding, model packs, detection, alignment, embeddings, quality, pose. No storage, no HTTP."""

"""Pixels to faces: decoding, model packs, detection, alignment, embeddings, quality, pose; no storage."""

"""Regard: self-hosted, accountable face detection and recognition."""

"""The operations with Rekognition's semantics: validation, scopes, audit and thresholds live here, once."""

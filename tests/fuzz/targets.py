"""Coverage-guided fuzz targets (atheris/libFuzzer) for what a stranger's bytes reach first.

    python tests/fuzz/targets.py image|protocol [libFuzzer flags] [CORPUS_DIR ...]

``image``: ``decode_image`` on arbitrary bytes (JPEG/PNG parsing, limits, EXIF orientation); Pillow's Python
side (its JPEG, PNG and EXIF parsers) is instrumented too, so coverage guides the search through them.
``protocol``: an input is ``<Operation>\\n<JSON body>``; the operation is resolved against the model like
``X-Amz-Target`` and the body parsed and validated by ``protocol.parse_request``. Either may raise only
Regard's typed errors; anything else (or a hang, or a crash) is a finding. Seed corpora: tests/fuzz/corpus/.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["regard", "PIL"]):
    from regard.adapters.aws import protocol
    from regard.adapters.aws.model import service_model, target_prefix
    from regard.errors import RegardError
    from regard.vision.image import decode_image

OPERATIONS = frozenset(service_model().operation_names)


def image(data: bytes) -> None:
    try:
        decoded = decode_image(data)
    except RegardError:
        return
    pixels = decoded.pixels
    assert pixels.ndim == 3 and pixels.shape[2] == 3 and pixels.flags.c_contiguous
    assert min(decoded.width, decoded.height) >= 80


def request(data: bytes) -> None:
    name, _, body = data.partition(b"\n")
    try:
        op = protocol.resolve_operation(f"{target_prefix()}.{name.decode('latin-1')}", OPERATIONS)
        parsed = protocol.parse_request(op, body)
    except RegardError:
        return
    assert isinstance(parsed, dict)


TARGETS = {"image": image, "protocol": request}


def main(argv: list[str]) -> None:
    target = TARGETS[argv[1]]
    atheris.Setup([argv[0], *argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)

"""Ways in: the Python API, the ``regard`` command line and the AWS-compatible HTTP server."""

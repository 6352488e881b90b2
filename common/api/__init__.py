"""The HTTP API served by the ``api`` function."""

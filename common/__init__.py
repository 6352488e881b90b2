"""Shared code of the simtel telemetry pipeline: formats, normalization, chunks, database, API."""

__version__ = "0.1.0"

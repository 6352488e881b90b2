"""Cloud Function ``load``: one chunk message from Pub/Sub into PostgreSQL, exactly once."""

import functions_framework

from common.load.handler import handle_event
from common.logs import setup_logging

setup_logging()


@functions_framework.cloud_event
def load_chunk(cloud_event) -> None:
    """Load a chunk; a dead-lettered chunk (source: the dead-letter topic) fails its session."""
    handle_event(cloud_event["source"], cloud_event.data)

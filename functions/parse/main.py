"""Cloud Function ``parse``: an object finalized in the raw bucket becomes a session and chunks."""

import functions_framework

from common.logs import setup_logging
from common.parse.handler import handle_event

setup_logging()


@functions_framework.cloud_event
def parse_event(cloud_event) -> None:
    """Accept a Cloud Storage CloudEvent or a Pub/Sub-wrapped storage notification."""
    handle_event(cloud_event["type"], cloud_event.data)

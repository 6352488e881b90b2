"""Local stand-ins for the cloud parts: PostgreSQL, the Pub/Sub emulator, fake-gcs-server."""

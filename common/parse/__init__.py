"""The parse stage: an uploaded object becomes a registered session and a series of chunk messages."""

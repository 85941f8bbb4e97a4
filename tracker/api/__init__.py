"""The REST API under /api/v1/: the record, the event feed and the caller's alerts."""

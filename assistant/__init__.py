"""Retrieval and cited answering over the index that :mod:`ingest` builds."""

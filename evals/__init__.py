"""Evaluation of retrieval, citations, refusals and latency against gold sets."""

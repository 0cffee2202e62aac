"""Adapters that let other frameworks use clerk's index and cited answers; each imports its framework itself."""

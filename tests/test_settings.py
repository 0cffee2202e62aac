"""One typed settings object: defaults, CLERK_* environment variables, then CLI flags on top."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from clerk.settings import Settings, get_settings, packaged_minilm_path


def test_environment_overrides_defaults_and_flags_override_environment(monkeypatch):
    assert Settings().index == Path(".clerk")
    monkeypatch.setenv("CLERK_INDEX", "/tmp/from-env")
    monkeypatch.setenv("CLERK_CHUNK_TOKENS", "150")
    monkeypatch.setenv("CLERK_OCR", "false")
    s = get_settings()
    assert (s.index, s.chunk_tokens, s.ocr) == (Path("/tmp/from-env"), 150, False)
    flagged = get_settings(index=Path("/tmp/from-flag"), chunk_tokens=None)
    assert flagged.index == Path("/tmp/from-flag") and flagged.chunk_tokens == 150


def test_bad_values_are_refused_with_the_setting_named(monkeypatch):
    monkeypatch.setenv("CLERK_MAX_FILE_MB", "lots")
    with pytest.raises(ValidationError, match="max_file_mb"):
        Settings()


def test_the_default_model_is_the_packaged_one():
    path = Path(Settings().embed_model_path)
    assert path == Path(packaged_minilm_path())
    assert (path / "model.safetensors").exists() and (path / "tokenizer.json").exists()


def test_the_web_app_answers_one_question_per_usable_core_unless_told(monkeypatch):
    import os

    monkeypatch.delenv("CLERK_ASK_CONCURRENCY", raising=False)
    assert Settings().ask_workers == len(os.sched_getaffinity(0))
    monkeypatch.setenv("CLERK_ASK_CONCURRENCY", "5")
    assert Settings().ask_workers == 5
    monkeypatch.setenv("CLERK_ASK_CONCURRENCY", "-1")
    with pytest.raises(ValidationError, match="ask_concurrency"):
        Settings()

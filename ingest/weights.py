"""Compact model files: the weights of a model trained here, stored as int8 on top of the packaged MiniLM.

A fine-tuned MiniLM-L6 is 90 MB in float32 and 45 MB in float16; per-row int8
with a float16 scale per row is 23 MB, small enough to ship in the repository,
and its vectors stay those of the float32 model (cosine above 0.995 on real
corpus lines after the round trip: tests/training/test_train.py).

A model folder holds ``clerk-model.json`` (what the weights are, which base
architecture they load into), ``weights.safetensors``, and the base model's
tokenizer and configuration files (so chunk sizing reads its tokenizer as for
any model folder).
:func:`load_sentence_transformer` builds the base model from the packaged
weights and overwrites its parameters with the dequantised ones, so nothing is
downloaded and the tokenizer is the packaged one.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch
    from sentence_transformers import SentenceTransformer

#: The one base model compact files are written on: the packaged all-MiniLM-L6-v2.
BASE = "all-MiniLM-L6-v2"
MANIFEST = "clerk-model.json"
WEIGHTS = "weights.safetensors"
#: Tensors with fewer elements than this (biases, layer norms) are kept in float16.
_SMALL = 4096


def is_compact(path: str | Path) -> bool:
    return (Path(path) / MANIFEST).is_file()


def quantise(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Per-row symmetric int8 for every matrix; float16 for the small tensors."""
    import torch

    out: dict[str, torch.Tensor] = {}
    for name, t in state.items():
        t = t.detach().float().cpu()
        if t.ndim == 2 and t.numel() >= _SMALL:
            scale = t.abs().amax(dim=1, keepdim=True).clamp(min=1e-8) / 127.0
            out[name] = torch.round(t / scale).clamp(-127, 127).to(torch.int8).contiguous()
            out[name + ".__scale"] = scale.squeeze(1).to(torch.float16).contiguous()
        else:
            out[name] = t.to(torch.float16).contiguous()
    return out


def dequantise(stored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    import torch

    out: dict[str, torch.Tensor] = {}
    for name, t in stored.items():
        if name.endswith(".__scale"):
            continue
        scale = stored.get(name + ".__scale")
        out[name] = t.float() * scale.float().unsqueeze(1) if scale is not None else t.to(torch.float32)
    return out


def save_compact(model: SentenceTransformer, folder: Path, info: dict[str, object]) -> Path:
    """Write ``model``'s weights compactly into ``folder`` with a manifest naming its base (:data:`BASE`)."""
    import shutil

    from safetensors.torch import save_file

    from clerk.settings import packaged_minilm_path

    folder.mkdir(parents=True, exist_ok=True)
    # The base's tokenizer and module configs (1 MB), so the folder reads like a model to the token counter.
    base_dir = Path(packaged_minilm_path())
    for item in base_dir.iterdir():
        if item.name in ("model.safetensors", "README.md", ".gitattributes", "data_config.json"):
            continue
        if item.is_dir():
            shutil.copytree(item, folder / item.name, dirs_exist_ok=True)
        else:
            shutil.copy2(item, folder / item.name)
    save_file(quantise(model.state_dict()), str(folder / WEIGHTS))
    manifest = {"format": "int8-rows", "base": BASE, "max_seq_length": int(model.max_seq_length), **info}
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return folder


def weights_digest(folder: str | Path) -> str:
    """SHA-256 of the weights file: what names a trained model in an index."""
    file = Path(folder) / WEIGHTS
    stat = file.stat()
    return _digest(str(file.resolve()), stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=8)
def _digest(file: str, size: int, mtime_ns: int) -> str:
    import hashlib

    h = hashlib.sha256()
    with Path(file).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def read_manifest(folder: str | Path) -> dict[str, object]:
    return json.loads((Path(folder) / MANIFEST).read_text(encoding="utf-8"))


def load_sentence_transformer(folder: str | Path) -> SentenceTransformer:
    """The compact model in ``folder``, on CPU, built on its packaged base model."""
    from safetensors.torch import load_file
    from sentence_transformers import SentenceTransformer

    from clerk.settings import packaged_minilm_path

    manifest = read_manifest(folder)
    if manifest.get("base") != BASE:
        raise ValueError(f"{folder}: base model {manifest.get('base')!r} is not one clerk ships")
    model = SentenceTransformer(packaged_minilm_path(), device="cpu", local_files_only=True)
    state = dequantise(load_file(str(Path(folder) / WEIGHTS)))
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise ValueError(f"{folder}: weights do not fit the base model (missing {missing[:3]}, unexpected {unexpected[:3]})")
    model.max_seq_length = int(manifest.get("max_seq_length", model.max_seq_length))
    model.eval()
    return model

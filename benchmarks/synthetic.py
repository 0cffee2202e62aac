"""A synthetic scale corpus made of the bundled documents' own sentences, and vectors for it without the model.

Embedding 100,000 chunks with MiniLM on two cores takes hours, and what the
scale benchmark measures (writes, index size, memory, search latency) does not
need the vectors to come from the model, only to have the same geometry. So:

1. :func:`harvest` parses the bundled corpus with ingest's own loaders, cleaner
   and chunker and keeps each document's distinct sentences, in their sections.
2. The distinct sentences (short, so quick) are embedded once with the real model.
3. :func:`generate` writes synthetic documents: each takes one real document's
   sentences, shuffles them (seeded) and deals them into sections under that
   document's own headings, in paragraphs of one to five sentences. Nothing is
   invented; council, type and date are the source document's, and the title
   says it is a synthetic copy. A ``MANIFEST.tsv`` carries the metadata.
4. :class:`SentenceLookupEmbedder` stands in for :class:`ingest.embed.Embedder`
   at ingest: a chunk's vector is the normalised mean of its sentences' vectors,
   looked up. Everything else (discovery, hashing, parsing in a worker, chunking,
   Chroma and registry writes) is the production ingest path.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from assistant.text import sentences
from clerk.settings import Settings
from ingest.chunk import doc_id_for
from ingest.discover import discover, source_for
from ingest.parse import ParseJob, parse_file

#: Bumped whenever the generator changes what it writes, so cached corpora are rebuilt.
GENERATOR_VERSION = 1
MANIFEST_HEADER = "file\tcouncil\ttitle\tdoc_type\tdate\n"
_SLUG = re.compile(r"[^a-z0-9]+")
_ENDS_SENTENCE = re.compile(r"[.!?][\"'”’)\]]*$")
#: Characters of a sentence's start it is indexed under for matching inside a chunk's text.
_KEY = 12


def normalise(sentence: str) -> str:
    """The key a sentence is stored and looked up under: whitespace collapsed."""
    return " ".join(sentence.split())


@dataclass
class Section:
    heading: str  # the last part of the section breadcrumb ("" before the first heading)
    sentences: list[int] = field(default_factory=list)  # ids into the sentence table


@dataclass
class SourceDocument:
    """One bundled document reduced to what the generator needs."""

    source: str
    council: str
    doc_type: str
    title: str
    date: str
    chunks: int
    sections: list[Section]

    @property
    def sentence_ids(self) -> list[int]:
        return [i for s in self.sections for i in s.sentences]


def harvest(corpus: Path, settings: Settings | None = None) -> tuple[list[SourceDocument], list[str]]:
    """The bundled documents' distinct sentences, per document and section, parsed as ingest parses them.

    Returns the documents and the sentence table (each distinct sentence once,
    whitespace-normalised). Files ingest cannot read (or that need OCR, which is
    off here: it is slow and adds nothing to the text volume) are left out.
    """
    settings = settings or Settings(ocr=False)
    table: dict[str, int] = {}
    docs: list[SourceDocument] = []
    for path in discover([corpus]).files:
        source = source_for(path, corpus.parent)
        out = parse_file(ParseJob(path, source, doc_id_for(source)), settings)
        if out.error is not None or out.doc is None:
            continue
        sections: list[Section] = []
        seen: set[int] = set()
        for node in out.nodes:
            heading = node.metadata["section"].split(" > ")[-1] if node.metadata["section"] else ""
            if not sections or sections[-1].heading != heading:
                sections.append(Section(heading))
            for s, e in sentences(node.text):
                text = normalise(node.text[s:e])
                if text == heading:
                    continue
                sid = table.setdefault(text, len(table))
                if sid not in seen:  # chunks repeat a sentence of the previous one (overlap)
                    seen.add(sid)
                    sections[-1].sentences.append(sid)
        meta = out.doc.meta
        sections = [s for s in sections if s.sentences]
        if sections:
            docs.append(
                SourceDocument(source, meta.council, meta.doc_type, meta.title, meta.date, len(out.nodes), sections)
            )
    return docs, list(table)


def save_harvest(path: Path, docs: list[SourceDocument], texts: list[str], vectors: np.ndarray) -> None:
    path.mkdir(parents=True, exist_ok=True)
    (path / "sources.json").write_text(json.dumps([asdict(d) for d in docs]))
    (path / "sentences.json").write_text(json.dumps(texts, ensure_ascii=False))
    np.save(path / "sentence_vectors.npy", vectors.astype(np.float32))


def load_harvest(path: Path) -> tuple[list[SourceDocument], list[str], np.ndarray]:
    raw = json.loads((path / "sources.json").read_text())
    docs = [SourceDocument(**{**d, "sections": [Section(**s) for s in d["sections"]]}) for d in raw]
    texts = json.loads((path / "sentences.json").read_text())
    return docs, texts, np.load(path / "sentence_vectors.npy")


def fingerprint(docs: list[SourceDocument], texts: list[str], seed: int) -> str:
    """Identifies a generated corpus: the sentence table, the sources, the seed and the generator version."""
    h = hashlib.sha1(f"{GENERATOR_VERSION}:{seed}:{len(texts)}".encode())
    for d in docs:
        h.update(f"{d.source}:{len(d.sentence_ids)}".encode())
    h.update("\n".join(texts).encode())
    return h.hexdigest()[:12]


def synthetic_text(doc: SourceDocument, texts: Sequence[str], rng: random.Random, title: str) -> str:
    """The source's sentences shuffled and re-sectioned under its own headings, as a plain-text document."""
    ids = doc.sentence_ids
    rng.shuffle(ids)
    headings = list(dict.fromkeys(s.heading for s in doc.sections if s.heading))
    parts = max(1, min(len(headings), len(ids)))
    cuts = sorted(rng.sample(range(1, len(ids)), parts - 1)) if parts > 1 else []
    bounds = [0, *cuts, len(ids)]
    lines = [title]
    for n in range(parts):
        if headings:
            lines.append(headings[n])
        paragraph: list[str] = []
        room = rng.randint(1, 5)
        for j in ids[bounds[n] : bounds[n + 1]]:
            paragraph.append(texts[j])
            room -= 1
            # A sentence without a full stop (a list item, a table row) ends its paragraph, as in the source.
            if room == 0 or not _ENDS_SENTENCE.search(texts[j]):
                lines.append(" ".join(paragraph))
                paragraph, room = [], rng.randint(1, 5)
        if paragraph:
            lines.append(" ".join(paragraph))
    return "\n\n".join(lines) + "\n"


@dataclass
class SyntheticDocument:
    file: str  # relative to the corpus folder
    source: str  # the bundled document its sentences come from
    chunks: int  # chunks ingest makes of it (counted with ingest's own parser)


def _count_chunks(path: Path) -> int:
    """Chunks of one generated file, by the production parser (runs in a worker process)."""
    out = parse_file(ParseJob(path, path.name, doc_id_for(path.name)), Settings(ocr=False))
    if out.error is not None:
        raise RuntimeError(f"{path}: the generated document does not parse ({out.error})")
    return len(out.nodes)


def generate(
    docs: list[SourceDocument],
    texts: Sequence[str],
    folder: Path,
    target_chunks: int,
    seed: int = 13,
    workers: int = 2,
    progress: Callable[[int], None] | None = None,
) -> list[SyntheticDocument]:
    """Write synthetic documents into ``folder`` until ingest would make at least ``target_chunks`` chunks.

    Sources are taken in a seeded order, every source once per round, so the
    mix of document kinds and sizes is the bundled corpus's. Each file's chunk
    count is measured with ingest's own parser, so every prefix of the list has
    a known size.
    """
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = [MANIFEST_HEADER]
    out: list[SyntheticDocument] = []
    total = 0
    order: list[int] = []
    with ProcessPoolExecutor(max_workers=workers) as pool:
        while total < target_chunks:
            batch: list[tuple[Path, SyntheticDocument]] = []
            planned = total
            while planned < target_chunks + 200:  # the estimate (the source's own size) is close; top up if short
                if not order:
                    order = list(range(len(docs)))
                    rng.shuffle(order)
                doc = docs[order.pop()]
                n = len(out) + len(batch) + 1
                title = f"{doc.title} (synthetic copy {n:05d})"
                stem = _SLUG.sub("-", Path(doc.source).stem.lower()).strip("-")[:60]
                rel = f"{doc.council}/syn-{n:05d}-{stem}.txt"
                path = folder / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(synthetic_text(doc, texts, rng, title), encoding="utf-8")
                manifest.append("\t".join((rel, doc.council, title, doc.doc_type, doc.date)) + "\n")
                batch.append((path, SyntheticDocument(rel, doc.source, 0)))
                planned += doc.chunks
            for (_, syn), count in zip(batch, pool.map(_count_chunks, [p for p, _ in batch], chunksize=8), strict=True):
                syn.chunks = count
                out.append(syn)
                total += count
                if progress:
                    progress(total)
            (folder / "MANIFEST.tsv").write_text("".join(manifest), encoding="utf-8")
    return out


def prefix_for(docs: Sequence[SyntheticDocument], chunks: int) -> int:
    """Fewest leading documents that hold at least ``chunks`` chunks."""
    total = 0
    for n, d in enumerate(docs, 1):
        total += d.chunks
        if total >= chunks:
            return n
    raise ValueError(f"the synthetic corpus holds {total} chunks, fewer than {chunks}")


class SentenceLookupEmbedder:
    """Stands in for :class:`ingest.embed.Embedder` when indexing the synthetic corpus.

    A chunk's vector is the normalised mean of the vectors of the stored
    sentences found in its text. Sentences are found by greedy longest match
    along each line (the chunker and cleaner may join two generated sentences
    on one line, so splitting the text again would miss some); the header line
    the pipeline prepends holds no stored sentence and adds nothing. A text with
    no stored sentence is embedded by the real model, loaded only if that
    happens; :attr:`model_embedded` counts such texts.
    """

    def __init__(self, texts: Sequence[str], vectors: np.ndarray, model_path: str | None = None) -> None:
        self.by_key: dict[str, list[tuple[str, int]]] = {}
        for i, t in enumerate(texts):
            self.by_key.setdefault(t[:_KEY], []).append((t, i))
        for found in self.by_key.values():
            found.sort(key=lambda x: -len(x[0]))  # longest first: the greedy match takes the whole sentence
        self.vectors = vectors.astype(np.float32)
        self.dimension = int(vectors.shape[1])
        self.model_path = model_path
        self.model_embedded = 0
        self.looked_up = 0
        self._model = None

    def sentence_ids(self, text: str) -> list[int]:
        """Ids of the stored sentences in ``text``, in order."""
        ids: list[int] = []
        for raw in text.split("\n"):
            line = normalise(raw)
            pos = 0
            while pos < len(line):
                hit = self._match(line, pos)
                if hit is None:
                    space = line.find(" ", pos)
                    pos = len(line) if space < 0 else space + 1
                    continue
                ids.append(hit[1])
                pos += len(hit[0]) + 1
        return ids

    def _match(self, line: str, pos: int) -> tuple[str, int] | None:
        for k in range(min(_KEY, len(line) - pos), 2, -1):
            for sentence, sid in self.by_key.get(line[pos : pos + k], ()):
                if line.startswith(sentence, pos) and (
                    pos + len(sentence) == len(line) or line[pos + len(sentence)] == " "
                ):
                    return sentence, sid
        return None

    def embed(self, texts: Sequence[str], progress: Callable[[int], None] | None = None) -> np.ndarray:
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        missing: list[int] = []
        for i, text in enumerate(texts):
            found = self.sentence_ids(text)
            if not found:
                missing.append(i)
                continue
            v = self.vectors[found].mean(axis=0)
            out[i] = v / (np.linalg.norm(v) or 1.0)
            self.looked_up += 1
        if missing:
            if self._model is None:
                from ingest.embed import Embedder

                if self.model_path is None:
                    raise RuntimeError(f"{len(missing)} text(s) hold no known sentence and no model was given")
                self._model = Embedder(self.model_path)
            out[missing] = self._model.embed([texts[i] for i in missing])
            self.model_embedded += len(missing)
        if progress:
            progress(len(texts))
        return out

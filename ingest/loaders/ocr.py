"""OCR for PDF pages that carry no text layer (scanned forms, printed-and-scanned returns).

Pages are rendered with pypdfium2 and read with Tesseract through pytesseract.
Tesseract is an optional system package, so availability is checked once and
the loader falls back to reporting the pages as needing OCR.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
from functools import cache
from pathlib import Path


@cache
def ocr_available() -> bool:
    """True when pytesseract is importable and the ``tesseract`` binary is on PATH (checked once)."""
    return importlib.util.find_spec("pytesseract") is not None and shutil.which("tesseract") is not None


def ocr_pdf_page(path: Path, page_index: int, dpi: int = 300, lang: str = "eng") -> str:
    """Text Tesseract reads from one rendered PDF page (0-based ``page_index``); about 2 s a page."""
    import pypdfium2 as pdfium
    import pytesseract

    pdf = pdfium.PdfDocument(str(path))
    try:
        page = pdf[page_index]
        try:
            bitmap = page.render(scale=dpi / 72)
            image = bitmap.to_pil()
        finally:
            page.close()
    finally:
        pdf.close()
    # One thread: OCR runs in a parse worker beside the embedder, which already uses every core.
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")
    return pytesseract.image_to_string(image, lang=lang)

"""HTML for the chat: answers with citation chips, source cards with the quote highlighted, the scope line.

Everything from a document or a user is escaped here, in one place: document
text is data, and a planted ``<script>`` must show as text, never run.
Citation chips are plain links (``<a class="cite" href="#src-T-N">``) that the
page script in :data:`PAGE_SCRIPT` turns into "show this source" clicks, so
they work with the keyboard and survive the chat's HTML sanitiser.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from pathlib import PurePath

from assistant.text import locate
from assistant.types import Answer, Citation, Filters, Passage
from assistant.types import file_link as served_at

_MARKER = re.compile(r"\[(\d+)\]")
#: Characters of a passage shown around its quote in a source card.
CONTEXT = 600
#: Closest passages listed under a refusal.
CLOSEST = 3


@dataclass
class Turn:
    """One answered question as the page shows it."""

    number: int
    question: str
    answer: Answer
    passages: list[Passage] = field(default_factory=list)  # what retrieval found (shown under a refusal)
    #: doc_id -> why it is restricted, for cited documents only officers may see: their cards say so.
    restricted: dict[str, str] = field(default_factory=dict)


def esc(text: str) -> str:
    return html.escape(text, quote=True)


def file_link(doc_id: str, source: str, page: int | None = None) -> str:
    """The app's own link to an indexed file (:func:`assistant.types.file_link`), escaped, opening PDFs at ``page``."""
    return esc(served_at(doc_id, page if PurePath(source).suffix.lower() == ".pdf" else None))


def answer_html(turn: Turn) -> str:
    """The answer as the chat shows it: escaped text, ``[n]`` as chips, lists as lists, a refusal marked.

    The wrapper carries the turn number, so feedback on a message finds its answer.
    """
    return f"<div class='answer' data-turn='{turn.number}'>{_answer_body(turn)}</div>"


def _answer_body(turn: Turn) -> str:
    a = turn.answer
    if a.refused:
        return (f"<div class='refusal'><strong>Not found in the documents.</strong> {esc(a.answer)}</div>"
                f"<p class='hint'>The closest passages searched are listed under Sources.</p>")
    by_n = {c.n: c for c in a.citations}

    def chip(m: re.Match[str]) -> str:
        n = int(m.group(1))
        c = by_n.get(n)
        if c is None:
            return ""  # a number with no citation never reaches the reader
        label = esc(f"Source {n}: {c.title}, page {c.page}")
        return f"<a class='cite' href='#src-{turn.number}-{n}' aria-label='{label}' title='{label}'>{n}</a>"

    lines, items = [], []
    for raw in a.answer.splitlines():
        text = _MARKER.sub(chip, esc(raw.lstrip("- ").rstrip()) if raw.lstrip().startswith("- ") else esc(raw))
        if raw.lstrip().startswith("- "):
            items.append(f"<li>{text}</li>")
        else:
            if items:
                lines.append("<ul>" + "".join(items) + "</ul>")
                items = []
            if text.strip():
                lines.append(f"<p>{text}</p>")
    if items:
        lines.append("<ul>" + "".join(items) + "</ul>")
    return "".join(lines)


def answer_markdown(turn: Turn) -> str:
    """The answer with its numbered references, for "copy as Markdown"."""
    a = turn.answer
    out = [f"**Q:** {turn.question}", "", a.answer, ""]
    for c in a.citations:
        where = f"p. {c.page}" + (f", {c.section}" if c.section else "")
        flag = f" [RESTRICTED: {turn.restricted[c.doc_id]}]" if c.doc_id in turn.restricted else ""
        out.append(f"[{c.n}] {c.title} ({where}), {c.source}{flag}: \u201c{c.quote}\u201d")
    return "\n".join(out).strip() + "\n"


def status_line(answer: Answer) -> str:
    t = answer.timings_ms
    retrieval = t.get("retrieve", 0.0) + t.get("rerank", 0.0)
    return (f"Answered by **{esc(answer.backend)}** · retrieval {retrieval:.0f} ms · "
            f"total {t.get('total', 0.0):.0f} ms")


def highlighted(text: str, quote: str) -> str:
    """``text`` around ``quote`` with the quote in ``<mark>``; the passage alone if the quote is not in it."""
    where = locate(quote, text) if quote else None
    if where is None:
        return esc(text[:CONTEXT]) + ("…" if len(text) > CONTEXT else "")
    start, end = where
    room = max(0, (CONTEXT - (end - start)) // 2)
    lo, hi = max(0, start - room), min(len(text), end + room)
    return ("…" if lo else "") + esc(text[lo:start]) + f"<mark>{esc(text[start:end])}</mark>" + \
        esc(text[end:hi]) + ("…" if hi < len(text) else "")


def _meta(council: str, doc_type: str, date: str, page: int, section: str) -> str:
    parts = [p for p in (council, doc_type.replace("_", " "), date) if p]
    crumbs = " › ".join(esc(s.strip()) for s in section.split(">") if s.strip()) if section else ""
    return (f"<div class='src-meta'>{esc(' · '.join(parts))} · page {page}</div>"
            + (f"<div class='src-section'>{crumbs}</div>" if crumbs else ""))


def citation_card(turn: int, c: Citation, restricted: str | None = None) -> str:
    """One source card; a restricted document says so, so an officer does not quote it in public by mistake.

    The card names the passage it quotes (``data-chunk``), so a card can be traced back to the index.
    """
    badge = f"<div class='restricted'>Restricted: {esc(restricted)}</div>" if restricted else ""
    check = "<span class='verified' title='quote found again on this page'>✓ verified</span>" if c.verified else ""
    link = (f"<a class='open' href='{file_link(c.doc_id, c.source, c.page)}' target='_blank' rel='noopener'>"
            f"Open page {c.page}</a>") if c.doc_id else ""
    return (f"<article class='src-card' id='src-{turn}-{c.n}' data-chunk='{esc(c.chunk_id or '')}' tabindex='-1'>"
            f"<header><span class='src-n'>{c.n}</span> <strong>{esc(c.title or c.source)}</strong></header>"
            f"{badge}{_meta(c.council, c.doc_type, c.date, c.page, c.section)}"
            f"<blockquote>{highlighted(c.text, c.quote)}</blockquote>"
            f"<footer>{link} {check}<span class='src-file'>{esc(c.source)}</span></footer></article>")


def passage_card(p: Passage) -> str:
    return (f"<article class='src-card near'><header><strong>{esc(p.title or p.source)}</strong></header>"
            f"{_meta(p.council, p.doc_type, p.date, p.page_start, p.section)}"
            f"<blockquote>{highlighted(p.text, '')}</blockquote>"
            f"<footer><a class='open' href='{file_link(p.doc_id, p.source, p.page_start)}' target='_blank' "
            f"rel='noopener'>Open page {p.page_start}</a><span class='src-file'>{esc(p.source)}</span></footer>"
            f"</article>")


def _turn_sources(t: Turn) -> str:
    if t.answer.refused:
        cards = "".join(passage_card(p) for p in t.passages[:CLOSEST])
        return "<p class='hint'>No passage answers this. Closest passages searched:</p>" + cards if cards else ""
    return "".join(citation_card(t.number, c, t.restricted.get(c.doc_id)) for c in t.answer.citations)


def sources_html(turns: list[Turn]) -> str:
    """Source cards of every answer, the latest open and first, earlier ones folded."""
    if not turns:
        return "<p class='hint'>Sources appear here: click a numbered chip in an answer to see its page and quote.</p>"
    latest, *earlier = reversed(turns)
    out = [f"<section class='turn' aria-label='Sources for: {esc(latest.question)}'>"
           f"<h3>{esc(latest.question)}</h3>{_turn_sources(latest)}</section>"]
    for t in earlier:
        out.append(f"<details class='turn'><summary>{esc(t.question)}</summary>{_turn_sources(t)}</details>")
    return "".join(out)


def scope_text(filters: Filters, document_titles: dict[str, str]) -> str:
    """The active scope in words, always shown above the chat."""
    if filters.is_empty():
        return "Searching **all indexed documents**."
    parts = []
    if filters.documents:
        parts.append("only " + ", ".join(f"*{esc(document_titles.get(d, d))}*" for d in filters.documents))
    if filters.councils:
        parts.append("councils: " + ", ".join(esc(c) for c in filters.councils))
    if filters.doc_types:
        parts.append("types: " + ", ".join(esc(t.replace("_", " ")) for t in filters.doc_types))
    if filters.date_from or filters.date_to:
        parts.append(f"dated {esc(filters.date_from or '…')} to {esc(filters.date_to or '…')}")
    return "Searching " + "; ".join(parts) + "."


PAGE_SCRIPT = """
<script>
document.addEventListener('click', function (e) {
  var chip = e.target.closest && e.target.closest('a.cite');
  if (!chip) return;
  e.preventDefault();
  var card = document.getElementById(chip.getAttribute('href').slice(1));
  if (!card) return;
  var fold = card.closest('details');
  if (fold) fold.open = true;
  document.querySelectorAll('.src-card.active').forEach(function (c) { c.classList.remove('active'); });
  card.classList.add('active');
  card.scrollIntoView({block: 'nearest', behavior: 'smooth'});
  card.focus({preventScroll: true});
});
</script>
"""

CSS = """
.gradio-container {max-width: 1400px !important}
#clerk-header h1 {font-size: 1.4rem; margin: 0}
#clerk-header p {margin: .2rem 0 0; color: #4a5568}
a.cite {display: inline-block; min-width: 1.3em; padding: 0 .35em; margin: 0 .1em; border-radius: .7em;
  background: var(--color-accent-soft); color: var(--color-accent) !important; font-size: .78em; font-weight: 600;
  text-align: center; text-decoration: none; vertical-align: super; line-height: 1.35}
a.cite:hover, a.cite:focus {background: var(--color-accent); color: white !important; outline: none}
.refusal {border-left: 3px solid #b7791f; padding-left: .6rem}
.hint {color: #4a5568; font-size: .9em}
#sources {max-height: 70vh; overflow-y: auto}
.src-card {border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .6rem .75rem; margin: .5rem 0;
  background: var(--background-fill-primary)}
.src-card.active {border-color: var(--color-accent); box-shadow: 0 0 0 2px var(--color-accent-soft)}
.src-card header {font-size: .95em}
.src-n {display: inline-block; min-width: 1.4em; text-align: center; border-radius: .7em;
  background: var(--color-accent-soft); color: var(--color-accent); font-weight: 600; font-size: .8em}
.src-meta, .src-section, .src-file {color: #4a5568; font-size: .82em}
.src-card blockquote {margin: .4rem 0; padding: 0 0 0 .6rem; border-left: 3px solid var(--border-color-primary);
  font-size: .9em; white-space: pre-wrap}
.src-card mark {background: #fde68a; color: inherit; padding: 0 .1em}
.src-card footer {display: flex; gap: .8rem; align-items: baseline; flex-wrap: wrap}
.verified {color: #276749; font-size: .82em}
.restricted {display: inline-block; margin: .2em 0; padding: .1em .5em; border-radius: 4px; font-size: .82em;
             font-weight: 600; color: #7c2d12; background: #ffedd5; border: 1px solid #c2410c}
.turn h3 {font-size: 1rem; margin: .2rem 0}
details.turn summary {cursor: pointer; color: #4a5568; margin: .4rem 0}
#scope-line {font-size: .9em}
@media (max-width: 800px) { #sources {max-height: none} }
"""


def sign_in_page(message: str = "", error: str = "") -> str:
    """The sign-in page (a plain form: works without scripts, labelled for screen readers)."""
    note = f"<p class='error' role='alert'>{esc(error)}</p>" if error else ""
    intro = f"<p>{esc(message)}</p>" if message else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in: clerk</title>
<style>
body {{ font-family: system-ui, sans-serif; background: #f1f5f9; color: #0f172a; margin: 0; }}
main {{ max-width: 22rem; margin: 12vh auto; background: #fff; padding: 2rem; border-radius: 8px;
       box-shadow: 0 1px 3px rgba(15, 23, 42, .2); }}
h1 {{ margin: 0 0 .25rem; font-size: 1.6rem; }}
label {{ display: block; margin-top: 1rem; font-weight: 600; }}
input {{ width: 100%; box-sizing: border-box; padding: .55rem; margin-top: .3rem; border: 1px solid #64748b;
        border-radius: 6px; font-size: 1rem; }}
button {{ margin-top: 1.4rem; width: 100%; padding: .65rem; border: 0; border-radius: 6px; background: #1e40af;
         color: #fff; font-size: 1rem; font-weight: 600; cursor: pointer; }}
button:hover, button:focus {{ background: #1e3a8a; }}
.error {{ color: #991b1b; background: #fee2e2; padding: .5rem; border-radius: 6px; }}
</style></head>
<body><main>
<h1>clerk</h1><p>Council documents, cited. Sign in to continue.</p>{intro}{note}
<form method="post" action="/login">
<label for="username">User name</label><input id="username" name="username" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form></main></body></html>"""

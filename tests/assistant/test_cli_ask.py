"""`clerk ask`: human output, --json, and --questions batches that survive bad lines."""

from __future__ import annotations

import json
import re

import jsonschema
import pytest

from assistant.schema import ANSWER_SCHEMA
from clerk.cli import main

pytestmark = pytest.mark.slow


def test_ask_prints_answer_and_numbered_references(index_settings, capsys):
    assert main(["ask", "How many councillors does Trafford Council have?", "--index", str(index_settings.index)]) == 0
    out = capsys.readouterr().out
    assert "63" in out and "References" in out
    assert re.search(r"\[\d\] Trafford Council Constitution Part 1: Summary and explanation \(p\. 5", out)


def test_ask_json_batch_keeps_order_and_reports_bad_lines(index_settings, tmp_path, capsys):
    qfile = tmp_path / "questions.jsonl"
    qfile.write_text(
        "\n".join([
            json.dumps({"id": "a", "question": "How much does North West Leicestershire District Council hold in reserve?"}),
            "{not json",
            json.dumps({"id": "c", "question": ""}),
            json.dumps({"id": 4, "question": "What did the LGA say about Leeds City Council?"}),
        ]) + "\n"
    )
    code = main(["ask", "--json", "--questions", str(qfile), "--index", str(index_settings.index)])
    captured = capsys.readouterr()
    lines = [json.loads(line) for line in captured.out.splitlines()]
    assert code == 1
    assert [x["id"] for x in lines] == ["a", None, "c", 4]
    jsonschema.validate(lines[0], ANSWER_SCHEMA)
    jsonschema.validate(lines[3], ANSWER_SCHEMA)
    assert not lines[0]["refused"] and lines[3]["refused"]
    assert "error" in lines[1] and "error" in lines[2]
    assert f"{qfile}:2: not valid JSON" in captured.err and f"{qfile}:3:" in captured.err


def test_ask_with_unknown_filter_names_it(index_settings, capsys):
    code = main(["ask", "Who chairs meetings?", "--council", "atlantis", "--index", str(index_settings.index)])
    assert code == 1 and "atlantis" in capsys.readouterr().err


def test_ask_without_index_says_so(tmp_path, capsys):
    assert main(["ask", "anything", "--index", str(tmp_path / "none")]) == 1
    assert "no index" in capsys.readouterr().err

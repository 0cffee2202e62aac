"""A real ``clerk serve`` for the tool doors (``/v1`` and ``/mcp``), shared by their test modules."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import ROOT, free_port, index_copy, running_server
from ui.accounts import Accounts


@dataclass(frozen=True)
class ToolServer:
    """A served copy of the access index (four documents, two restricted) with an API key per role."""

    url: str
    index: Path
    keys: dict[str, str]  # role -> key: "officer" sees restricted documents, "member" does not


@pytest.fixture(scope="session")
def tool_index(access_settings, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    index = index_copy(access_settings, tmp_path_factory, "tool-keys")
    accounts = Accounts(access_settings.model_copy(update={"index": index}).users_path)
    return index, {role: accounts.add(f"{role}-tool", role, None, api_key=True) for role in ("officer", "member")}


@pytest.fixture(scope="session")
def tool_server(tool_index) -> Iterator[ToolServer]:
    """`clerk serve` on 127.0.0.1 over :func:`tool_index`, as a chat client or an agent reaches it."""
    index, keys = tool_index
    port = free_port()
    cmd = [sys.executable, "-m", "clerk.cli", "serve", "--index", str(index), "--port", str(port)]
    with running_server(cmd, ready="clerk is ready", timeout=180, cwd=ROOT):
        yield ToolServer(f"http://127.0.0.1:{port}", index, keys)

"""Users file, password hashes and the `clerk users` command."""

from __future__ import annotations

import subprocess
import sys

import pytest

from ui.accounts import OPEN_VISITOR, Accounts, AccountsError, Sessions, hash_api_key, hash_password, verify_password


def test_passwords_are_salted_hashes_checked_exactly():
    first, second = hash_password("correct horse"), hash_password("correct horse")
    assert first != second and "correct horse" not in first  # salted, never stored in clear
    assert verify_password("correct horse", first) and verify_password("correct horse", second)
    assert not verify_password("correct hors", first) and not verify_password("", first)
    assert not verify_password("correct horse", "scrypt$garbage") and not verify_password("x", "plain")


def test_accounts_round_trip_and_roles(tmp_path):
    path = tmp_path / "users.toml"
    accounts = Accounts(path)
    assert not accounts.enabled and accounts.viewer(None) == OPEN_VISITOR
    accounts.add("olivia", "officer", "officer-pass-1")
    accounts.add("mo", "member", "member-pass-1")
    again = Accounts(path)
    assert again.enabled and oct(path.stat().st_mode & 0o777) == "0o600"
    assert again.check("olivia", "officer-pass-1").role == "officer"
    assert again.check("olivia", "member-pass-1") is None and again.check("nobody", "x") is None
    officer, member = again.viewer("olivia"), again.viewer("mo")
    assert officer.sees_restricted and officer.manages
    assert not member.sees_restricted and not member.manages
    assert not again.viewer("stranger").sees_restricted
    again.remove("mo")
    assert set(Accounts(path).users) == {"olivia"}


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("[users.a]\nrole = 'admin'\npassword = 'scrypt$1'\n", "has role 'admin'"),
        ("[users.a]\nrole = 'member'\npassword = 'hunter2'\n", "has no hashed password"),
        ("[users\nrole = ", "cannot be read as TOML"),
        ("users = 3\n", "must be a table"),
    ],
)
def test_a_bad_users_file_is_named_with_the_reason(tmp_path, text, reason):
    path = tmp_path / "users.toml"
    path.write_text(text)
    with pytest.raises(AccountsError, match=reason) as err:
        Accounts(path)
    assert str(path) in str(err.value)


def test_bad_requests_are_refused(tmp_path):
    accounts = Accounts(tmp_path / "users.toml")
    with pytest.raises(AccountsError, match="at least 8"):
        accounts.add("a", "member", "short")
    with pytest.raises(AccountsError, match="roles are"):
        accounts.add("a", "admin", "long-enough")
    with pytest.raises(AccountsError, match="user name"):
        accounts.add("../x", "member", "long-enough")


def test_sessions_expire_and_close():
    sessions = Sessions(hours=1)
    token = sessions.open("olivia")
    assert sessions.user(token) == "olivia" and sessions.user("forged") is None and sessions.user(None) is None
    sessions.close(token)
    assert sessions.user(token) is None
    short = Sessions(hours=-1)
    assert short.user(short.open("mo")) is None


def test_clerk_users_command(tmp_path):
    def clerk(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "clerk.cli", "users", *args, "--index", str(tmp_path)],
                              input=stdin, capture_output=True, text=True, timeout=60)

    assert "without sign-in" in clerk("list").stdout
    added = clerk("add", "olivia", "--role", "officer", "--password-stdin", stdin="officer-pass-1\n")
    assert added.returncode == 0 and "sign-in" in added.stdout
    assert clerk("list").stdout.split() == ["olivia", "officer"]
    assert Accounts(tmp_path / "users.toml").check("olivia", "officer-pass-1") is not None
    short = clerk("add", "mo", "--password-stdin", stdin="short\n")
    assert short.returncode == 2 and "at least 8" in short.stderr
    assert clerk("remove", "nobody").returncode == 2
    assert clerk("remove", "olivia").returncode == 0 and "without sign-in" in clerk("list").stdout


def test_an_api_key_is_shown_once_stored_as_its_hash_and_names_its_user(tmp_path):
    def clerk(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "clerk.cli", "users", *args, "--index", str(tmp_path)],
                              input=stdin, capture_output=True, text=True, timeout=60)

    added = clerk("add", "teams-bot", "--role", "member", "--api-key")
    assert added.returncode == 0, added.stderr
    key = added.stdout.strip()
    assert key.startswith("clerk_") and len(key) > 40 and "\n" not in key
    stored = (tmp_path / "users.toml").read_text()
    assert key not in stored and hash_api_key(key) in stored
    accounts = Accounts(tmp_path / "users.toml")
    assert accounts.by_key(key).name == "teams-bot" and accounts.by_key(key + "x") is None
    assert accounts.by_key("") is None
    assert accounts.check("teams-bot", "") is None  # API-only: no password to sign in with
    assert clerk("list").stdout.split() == ["teams-bot", "member", "api-key"]
    # an officer with a password gets a key too, keeping the password; a new key replaces the old one
    assert clerk("add", "olivia", "--role", "officer", "--password-stdin", stdin="officer-pass-1\n").returncode == 0
    first = clerk("add", "olivia", "--role", "officer", "--api-key").stdout.strip()
    second = clerk("add", "olivia", "--role", "officer", "--api-key").stdout.strip()
    accounts = Accounts(tmp_path / "users.toml")
    assert accounts.by_key(first) is None and accounts.by_key(second).role == "officer"
    assert accounts.check("olivia", "officer-pass-1") is not None
    # a new user needs a password or a key
    with pytest.raises(AccountsError, match="--api-key"):
        accounts.add("nobody", "member", None)

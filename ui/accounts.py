"""Who may use the web app and what each person may see: users, roles, hashed passwords, sessions.

Sign-in is optional. It is on when the users file (``Settings.users_path``,
``<index>/users.toml`` unless ``CLERK_USERS_FILE`` says otherwise) lists at
least one user; ``clerk users add NAME --role ROLE`` writes it. Roles:

==========  ===========================  =============================================
role        documents                    may also
==========  ===========================  =============================================
officer     all, restricted included     add and delete documents, run evaluations
member      public only                  ask, browse the library
public      public only                  ask, browse the library
==========  ===========================  =============================================

Without a users file the app is a single-user local tool: the visitor may add
and delete documents, but, not being signed in, never sees restricted ones.

Passwords are stored as scrypt hashes (``scrypt$n$r$p$salt$hash``, salt and
hash base64), checked in constant time. Sessions are random tokens held in the
server's memory with an expiry; restarting the server signs everyone out.

API keys (``clerk users add NAME --role ROLE --api-key``) let other tools call
``/api/v1`` and ``/v1`` as that user, with that user's role: a request sends
``Authorization: Bearer KEY``. A key is 32 random bytes, shown once and stored
as its SHA-256 (``sha256$hex``): a key that long cannot be guessed from its
hash, so the slow hash that protects a chosen password is not needed, and
every request can be checked quickly. A user may have a key and no password
(a service account that never signs in to the page).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROLES = ("officer", "member", "public")
#: Roles entitled to restricted documents.
SEES_RESTRICTED = frozenset({"officer"})
#: Roles that may add and delete documents and run evaluations ("local": the visitor when sign-in is off).
MANAGES = frozenset({"officer", "local"})
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD = 8


class AccountsError(ValueError):
    """A users file or account request that cannot be used, with the reason."""


@dataclass(frozen=True)
class Viewer:
    """The person a request acts for: what they may see and do."""

    name: str | None  # None: sign-in is off
    role: str

    @property
    def signed_in(self) -> bool:
        return self.name is not None

    @property
    def sees_restricted(self) -> bool:
        return self.role in SEES_RESTRICTED

    @property
    def manages(self) -> bool:
        """May add and delete documents and run evaluations."""
        return self.role in MANAGES

    @property
    def label(self) -> str:
        if self.signed_in:
            return f"Signed in as {self.name} ({self.role})"
        return "Sign-in is off: restricted documents are hidden" if self.role == "local" else "Not signed in"


#: The visitor of an app without sign-in: a local single-user tool, but never shown restricted documents.
OPEN_VISITOR = Viewer(None, "local")


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32)
    b64 = base64.b64encode
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    """Constant-time check of ``password`` against a ``hash_password`` string; malformed hashes never match."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        got = hashlib.scrypt(
            password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=len(expected)
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, expected)


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    password_hash: str | None  # None: an API-only account, which cannot sign in to the page
    api_key_hash: str | None = None


#: What an API key starts with, so one pasted into the wrong place is recognisable.
KEY_PREFIX = "clerk_"


def new_api_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    return "sha256$" + hashlib.sha256(key.encode()).hexdigest()


class Accounts:
    """The users file: read it, check a sign-in, add or remove users."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.users: dict[str, Account] = {}
        if path.is_file():
            self._load()

    def _load(self) -> None:
        try:
            data = tomllib.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise AccountsError(f"{self.path}: cannot be read as TOML ({exc})") from exc
        users = data.get("users", {})
        if not isinstance(users, dict):
            raise AccountsError(f"{self.path}: [users] must be a table of users")
        for name, entry in users.items():
            if not isinstance(entry, dict) or not _NAME.match(name):
                raise AccountsError(f"{self.path}: user {name!r} is not a valid entry")
            role, hashed, key = entry.get("role"), entry.get("password"), entry.get("api_key")
            if role not in ROLES:
                raise AccountsError(f"{self.path}: user {name!r} has role {role!r}; roles are {', '.join(ROLES)}")
            if key is not None and not (isinstance(key, str) and key.startswith("sha256$")):
                raise AccountsError(f"{self.path}: user {name!r} has an api_key that is not a sha256$ hash "
                                    f"(issue one with `clerk users add {name} --api-key`)")
            if hashed is None and key is None or hashed is not None and not (
                    isinstance(hashed, str) and hashed.startswith("scrypt$")):
                raise AccountsError(
                    f"{self.path}: user {name!r} has no hashed password (set one with `clerk users add {name}`)"
                )
            self.users[name] = Account(name, role, hashed, key)

    @property
    def enabled(self) -> bool:
        """Sign-in is required when at least one user exists."""
        return bool(self.users)

    def check(self, name: str, password: str) -> Account | None:
        """The account for a correct name and password, else None (unknown names cost the same time)."""
        account = self.users.get(name.strip())
        if account is None or account.password_hash is None:
            verify_password(password, _DUMMY_HASH)
            return None
        return account if verify_password(password, account.password_hash) else None

    def by_key(self, key: str) -> Account | None:
        """The account an API key belongs to, else None; every stored hash is compared, in constant time each."""
        presented = hash_api_key(key.strip())
        found = None
        for account in self.users.values():
            if account.api_key_hash is not None and hmac.compare_digest(presented, account.api_key_hash):
                found = account
        return found

    def viewer(self, name: str | None) -> Viewer:
        """The viewer for a signed-in name; sign-in off gives the open visitor; an unknown name sees nothing private."""
        if not self.enabled:
            return OPEN_VISITOR
        account = self.users.get(name or "")
        return Viewer(account.name, account.role) if account else Viewer(None, "public")

    def add(self, name: str, role: str, password: str | None, api_key: bool = False) -> str | None:
        """Add a user, or replace the role (and the password, when given) of an existing one, and save the file.

        ``api_key``: issue a new API key, replacing any earlier one; it is returned, and only its hash is kept.
        ``password`` None keeps an existing user's password; a new user without one is API-only.
        """
        if not _NAME.match(name):
            raise AccountsError(f"user name {name!r}: use letters, digits and . _ @ - (up to 64)")
        if role not in ROLES:
            raise AccountsError(f"role {role!r}: roles are {', '.join(ROLES)}")
        if password is not None and len(password) < MIN_PASSWORD:
            raise AccountsError(f"password: at least {MIN_PASSWORD} characters")
        before = self.users.get(name)
        if password is None and not api_key and (before is None or before.password_hash is None):
            raise AccountsError(f"user {name!r}: give a password, or --api-key for an API-only account")
        key = new_api_key() if api_key else None
        self.users[name] = Account(
            name, role, hash_password(password) if password is not None else (before.password_hash if before else None),
            hash_api_key(key) if key else (before.api_key_hash if before else None),
        )
        self.save()
        return key

    def remove(self, name: str) -> None:
        if name not in self.users:
            raise AccountsError(f"no user {name!r} in {self.path}")
        del self.users[name]
        self.save()

    def save(self) -> None:
        lines = ["# clerk users: manage with `clerk users add NAME --role ROLE` (passwords are scrypt hashes)", ""]
        for a in sorted(self.users.values(), key=lambda a: a.name):
            lines += [f'[users."{a.name}"]', f'role = "{a.role}"']
            lines += [f'password = "{a.password_hash}"'] if a.password_hash else []
            lines += [f'api_key = "{a.api_key_hash}"', ""] if a.api_key_hash else [""]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("\n".join(lines), encoding="utf-8")
        tmp.chmod(0o600)
        tmp.replace(self.path)


_DUMMY_HASH = hash_password(secrets.token_hex(8))


class Sessions:
    """Signed-in sessions: random token -> user name, expiring; thread-safe (requests run on many threads)."""

    def __init__(self, hours: float) -> None:
        self.seconds = hours * 3600
        self._tokens: dict[str, tuple[str, float]] = {}
        self._lock = threading.Lock()

    def open(self, name: str) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = (name, time.time() + self.seconds)
        return token

    def user(self, token: str | None) -> str | None:
        if not token:
            return None
        with self._lock:
            entry = self._tokens.get(token)
            if entry is None:
                return None
            if entry[1] < time.time():
                del self._tokens[token]
                return None
            return entry[0]

    def close(self, token: str | None) -> None:
        with self._lock:
            self._tokens.pop(token or "", None)

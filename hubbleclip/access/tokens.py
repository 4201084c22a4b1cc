"""Bearer tokens for proprietary data: a JSON file of hashed tokens, each naming what it may see.

A token is 32 random bytes (``hc_`` + URL-safe base64) shown once when it is added; the file keeps
only its SHA-256.  With 256 bits of entropy a fast hash is enough: a KDF slows down guessing of
low-entropy passwords, and these cannot be guessed.  Lookups compare against every entry with
:func:`hmac.compare_digest`, so the time taken does not depend on which entry (if any) matched.

File format (written atomically, mode 0600)::

    {"format": "hubbleclip-tokens", "version": 1,
     "tokens": [{"name": "pi-smith", "sha256": "<64 hex>", "programs": ["11360"], "created": "..."},
                {"name": "archive-staff", "sha256": "...", "programs": "all", "created": "..."}]}
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from hubbleclip.access.policy import Viewer
from hubbleclip.errors import UserError
from hubbleclip.io import atomic_write_text, read_json

log = logging.getLogger(__name__)

FORMAT = "hubbleclip-tokens"
VERSION = 1
PREFIX = "hc_"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,63}$")


class TokenFileError(UserError):
    """A token file that is missing fields or is not a token file."""


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8")).digest()


@dataclass(frozen=True)
class TokenEntry:
    name: str
    digest: bytes
    viewer: Viewer
    created: str = ""

    def to_json(self) -> dict:
        programs = "all" if self.viewer.everything else sorted(self.viewer.programs)
        return {"name": self.name, "sha256": self.digest.hex(), "programs": programs, "created": self.created}


def _viewer(name: str, programs) -> Viewer:
    if programs == "all":
        return Viewer(everything=True, name=name)
    return Viewer(programs=frozenset(str(p) for p in programs), name=name)


class TokenStore:
    def __init__(self, entries: list[TokenEntry], path: Path | None = None):
        self.entries = list(entries)
        self.path = path

    def __len__(self) -> int:
        return len(self.entries)

    @classmethod
    def load(cls, path: str | Path) -> TokenStore:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(
                f"{path}: token file not found (create one with `hubbleclip tokens add {path} --name NAME`)"
            )
        data = read_json(path, TokenFileError)
        if not isinstance(data, dict) or data.get("format") != FORMAT or data.get("version") != VERSION:
            raise TokenFileError(f'{path}: expected "format": "{FORMAT}", "version": {VERSION}')
        entries = []
        for i, item in enumerate(data.get("tokens") or []):
            where = f"{path}: tokens[{i}]"
            if not isinstance(item, dict):
                raise TokenFileError(f"{where}: expected an object")
            name, digest, programs = item.get("name"), item.get("sha256"), item.get("programs")
            if not isinstance(name, str) or not NAME_RE.match(name):
                raise TokenFileError(f"{where}: field 'name' missing or not a short name")
            if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
                raise TokenFileError(f"{where} ({name}): field 'sha256' must be 64 lowercase hex digits")
            if programs != "all" and not (
                isinstance(programs, list) and programs and all(isinstance(p, (str, int)) for p in programs)
            ):
                raise TokenFileError(f"{where} ({name}): field 'programs' must be \"all\" or a list of ids")
            viewer = _viewer(name, programs)
            entries.append(TokenEntry(name, bytes.fromhex(digest), viewer, item.get("created", "")))
        names = [e.name for e in entries]
        if len(set(names)) != len(names):
            raise TokenFileError(f"{path}: token names must be unique")
        return cls(entries, path)

    def viewer(self, token: str) -> Viewer | None:
        """The viewer a presented token stands for, or None.  Every entry is compared, in
        constant time each, whatever matches."""
        digest = token_digest(token)
        found = None
        for entry in self.entries:
            if hmac.compare_digest(entry.digest, digest):
                found = entry.viewer
        return found

    def save(self, path: str | Path | None = None) -> Path:
        path = Path(path or self.path)
        text = json.dumps(
            {"format": FORMAT, "version": VERSION, "tokens": [e.to_json() for e in self.entries]}, indent=2
        )
        atomic_write_text(path, text + "\n")
        os.chmod(path, 0o600)
        return path


class LiveTokenStore:
    """The token file as a running server sees it: re-read when the file changes, so ``hubbleclip
    tokens add|remove`` takes effect without a restart.  A lookup checks the file's mtime, size and
    inode at most every ``check_every_s`` seconds; a changed file replaces the whole table at once.
    A file that no longer parses keeps the previous table (one WARNING): a half-finished hand edit
    must not lock every holder out.  A deleted file revokes every token (one WARNING)."""

    def __init__(
        self, path: str | Path, check_every_s: float = 1.0, clock: Callable[[], float] = time.monotonic
    ):
        self.path, self.check_every_s, self.clock = Path(path), check_every_s, clock
        self._store = TokenStore.load(self.path)  # at start-up a bad file is an error, not a warning
        self._stamp = self._file_stamp()
        self._checked = clock()
        self._lock = threading.Lock()

    def _file_stamp(self) -> tuple | None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def current(self) -> TokenStore:
        """The table in force now (re-read first when the check is due and the file changed)."""
        if self.clock() - self._checked >= self.check_every_s:
            with self._lock:  # one request re-reads; the others keep answering from the old table
                if self.clock() - self._checked >= self.check_every_s:
                    self._reload_if_changed()
                    self._checked = self.clock()
        return self._store

    def _reload_if_changed(self) -> None:
        stamp = self._file_stamp()
        if stamp == self._stamp:
            return
        self._stamp = stamp  # a bad file is reported once, not on every check
        if stamp is None:
            self._store = TokenStore([], self.path)
            log.warning("token file %s was removed: every token is revoked", self.path)
            return
        try:
            store = TokenStore.load(self.path)
        except (OSError, UserError) as exc:
            # the message names the file and what is wrong with it
            log.warning(
                "token file not reloaded, keeping the %d tokens loaded before: %s", len(self._store), exc
            )
            return
        self._store = store
        log.info("token file %s reloaded: %d tokens", self.path, len(store))

    def viewer(self, token: str) -> Viewer | None:
        return self.current().viewer(token)

    def __len__(self) -> int:
        return len(self._store)


def add_token(path: str | Path, name: str, programs: str | list[str]) -> str:
    """Add a new token named ``name`` for ``programs`` ("all" or program ids) to the file (created
    when missing) and return the token itself: the only time it is ever shown."""
    path = Path(path)
    if not NAME_RE.match(name or ""):
        raise UserError(f"--name: {name!r} is not a short name (letters, digits, _ . @ -)")
    if isinstance(programs, str):
        ids = [p.strip() for p in programs.split(",") if p.strip()]
        programs = "all" if ids == ["all"] else ids
    if programs != "all" and not programs:
        raise UserError("--programs: give all or comma-separated program ids, e.g. 11360,12498")
    store = TokenStore.load(path) if path.exists() else TokenStore([], path)
    if any(e.name == name for e in store.entries):
        raise UserError(f"{path}: a token named {name!r} exists already (remove it first)")
    token = PREFIX + secrets.token_urlsafe(32)
    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    store.entries.append(TokenEntry(name, token_digest(token), _viewer(name, programs), created))
    store.save(path)
    return token


def remove_token(path: str | Path, name: str) -> None:
    store = TokenStore.load(path)
    kept = [e for e in store.entries if e.name != name]
    if len(kept) == len(store.entries):
        raise UserError(f"{path}: no token named {name!r}")
    TokenStore(kept, store.path).save()

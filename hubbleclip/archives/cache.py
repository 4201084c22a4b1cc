"""Resumable on-disk cache of HTTP responses (one SQLite file per source).

Every finished response is committed on its own, so a crash or Ctrl-C loses nothing already
fetched and a rerun replays the cache and fetches only what is missing.  Only final answers are
stored (2xx, and 404/410 meaning "this record does not exist"); throttling and server errors are
never cached.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Response:
    url: str
    status: int
    content_type: str
    body: bytes

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    def json(self):
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", errors="replace")


def request_key(method: str, url: str, params: dict | None = None, data: dict | None = None) -> str:
    """Stable key of a request: the same query always maps to the same cache entry."""
    blob = json.dumps(
        [method.upper(), url, sorted((params or {}).items()), sorted((data or {}).items())], default=str
    )
    return hashlib.sha256(blob.encode()).hexdigest()


class ResponseCache:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, url TEXT, status INTEGER, "
            "content_type TEXT, body BLOB, fetched REAL)"
        )
        self._db.commit()

    def get(self, key: str) -> Response | None:
        row = self._db.execute(
            "SELECT url, status, content_type, body FROM responses WHERE key = ?", (key,)
        ).fetchone()
        return Response(row[0], row[1], row[2], bytes(row[3])) if row else None

    def put(self, key: str, response: Response) -> None:
        with self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?)",
                (key, response.url, response.status, response.content_type, response.body, time.time()),
            )

    def __len__(self) -> int:
        return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        self._db.close()

"""The console in a bench's own process, on an embedded IAM backend of its own (bench/users_list.py,
bench/policy_pages.py), imported as a sibling module (the benches run as scripts from their file).
"""

from __future__ import annotations

import os
import tempfile

from users.iam.embedded import server as embedded_server


def start(redis_url: str | None = None) -> embedded_server.EmbeddedServer:
    """Start the embedded backend in this process and point the console at it, before
    `django.setup()`: a throwaway state directory and SQLite database, the cache in Redis at
    `redis_url` (else Django's file cache, without REDIS_URL)."""
    server = embedded_server.start(port=0)
    state = tempfile.mkdtemp(prefix="iamconsole-bench-")
    os.environ.update(
        IAMCONSOLE_STATE_DIR=state,
        IAM_BACKEND="endpoint",
        IAM_ENDPOINT_URL=server.url,
        DATABASE_URL=f"sqlite:///{state}/db.sqlite3",
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        DJANGO_SETTINGS_MODULE="iamconsole.settings",
        LOG_LEVEL="WARNING",
        ALLOWED_HOSTS="testserver",  # Django's test client
    )
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    return server

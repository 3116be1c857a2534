"""Test settings: the production settings, read with a test environment.

The environment is set here, before iamconsole.settings is imported, because the
settings module reads it at import time and pytest-django imports it before any
conftest runs.
"""

import os
import tempfile
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

# Never touch a real AWS account: fake credentials, and moto's in-process mock (no endpoint).
os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
os.environ["IAM_BACKEND"] = "aws"
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "CELERY_BROKER_URL"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
os.environ["IAMCONSOLE_STATE_DIR"] = tempfile.mkdtemp(prefix="iamconsole-test-")
os.environ.setdefault("SECRET_KEY", "test-" + "k" * 60)
# IAM_BACKEND=aws above would make operator MFA required; tests that need it ask for it.
os.environ["OPERATOR_MFA"] = "optional"

# The tests' own Redis database number (flushed at the start of a run).
_redis = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379")
TEST_REDIS_URL = urlunsplit(_redis._replace(path="/" + os.environ.get("TEST_REDIS_DB", "13")))
os.environ["REDIS_URL"] = TEST_REDIS_URL

from iamconsole.settings import *  # noqa: E402,F403

# Each test starts with an empty cache; a process-local one makes that cheap.
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Job items run one after the other in the calling thread, which sees the test's transaction
# (worker subprocesses started by the integration tests keep the production default).
JOB_ITEM_THREADS = 1
# An empty, existing STATIC_ROOT: WhiteNoise serves from the finders and stops warning.
STATIC_ROOT = Path(os.environ["IAMCONSOLE_STATE_DIR"]) / "static"
STATIC_ROOT.mkdir()

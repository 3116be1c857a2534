"""The gateway's result types pickle as constructor calls (users/iam/types.py): the cached
indexes are unpickled on every users-list request, and they must come back equal."""

from __future__ import annotations

import pickle
from dataclasses import fields, is_dataclass
from datetime import UTC, datetime

from users.iam import types

CREATED = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_the_cached_indexes_come_back_equal_from_pickle() -> None:
    arn = "arn:aws:iam::123456789012:user/alice"
    summary = types.UserSummary("alice", "AIDA1", arn, "/", CREATED, ("dev",), ("p",))
    key = types.ReportedAccessKey(True, CREATED, None)
    report = types.CredentialReport(
        generated=CREATED,
        users={"alice": types.UserCredentials("alice", True, None, CREATED, False, (key,))},
    )
    policy = types.AttachedPolicy("ReadOnlyAccess", "arn:aws:iam::aws:policy/ReadOnlyAccess")
    for value in ([summary, summary], report, policy):
        assert pickle.loads(pickle.dumps(value)) == value


def test_every_result_type_pickles_without_dataclass_setstate() -> None:
    """Each dataclass of the module reduces to (class, field values), in field order."""
    classes = [value for value in vars(types).values() if isinstance(value, type) and is_dataclass(value)]
    assert len(classes) >= 20
    for cls in classes:
        values = tuple(f"value-{number}" for number in range(len(fields(cls))))
        instance = object.__new__(cls)
        for item, value in zip(fields(cls), values, strict=True):
            object.__setattr__(instance, item.name, value)
        assert instance.__reduce__() == (cls, values), cls.__name__

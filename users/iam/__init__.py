"""The IAM boundary: the only package that imports boto3, botocore or moto.

- gateway.py: `IamGateway`, the clients, `_call` (translate, audit, invalidate) and the IAM verbs;
- errors.py, types.py, counter.py: the errors, result types and call counter, without boto3, so
  forms, validators and views that only need one of them do not load the SDK;
- embedded/: the embedded moto server and its fidelity patches (`python -m users.iam.embedded`).

This is healthchecks' "one module per external service, with its own errors" rule
(../shared/docs/STYLE.md), as a package because the boundary has grown several parts.
"""

"""Plain boto3 IAM clients for tests: what IAM really holds, with no console code in between."""

from __future__ import annotations

from typing import Any

import boto3
from botocore.config import Config


def direct_client(url: str, attempts: int | None = None) -> Any:
    """boto3 IAM on the endpoint `url` with moto's test credentials; `attempts` (the first one
    included; 1 = no retries) or boto3's default retries."""
    config = Config(retries={"mode": "standard", "total_max_attempts": attempts}) if attempts else None
    return boto3.client(
        "iam",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=config,
    )

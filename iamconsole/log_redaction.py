"""A second barrier against secrets in logs.

The first barrier is the logging config: the AWS SDK, which logs whole request and
response bodies at DEBUG, is clamped to INFO. This filter masks the values of the
parameters that carry IAM secrets, should any log line carry one all the same.
"""

from __future__ import annotations

import logging
import re

SECRET_NAMES = (
    "SecretAccessKey", "Password", "NewPassword", "OldPassword", "password", "Base32StringSeed", "QRCodePNG",
    "AuthenticationCode1", "AuthenticationCode2",
)  # fmt: skip
_NAMES = "|".join(SECRET_NAMES)
_PATTERN = re.compile(r"""(?P<name>['"]?(?:""" + _NAMES + r""")['"]?\s*[:=]\s*)(?P<quote>['"]?)[^'"&,\s}]+""")


def redact(text: str) -> str:
    return _PATTERN.sub(r"\g<name>\g<quote>***", text)


class RedactSecrets(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True

"""The Logger, created once and used the same way by every function.

Structured JSON logs with the Lambda context; never a password, token or session id.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

logger = Logger()

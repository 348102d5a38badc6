"""The Logger, created once and used the same way by every function.

Structured JSON logs with the Lambda context; never a password, token or session id.
"""

from __future__ import annotations

import logging

from aws_lambda_powertools import Logger

logger = Logger()

# At DEBUG, botocore and PynamoDB log whole request bodies (passwords in a hash update,
# tokens in a key): whatever the log level of the functions, theirs stays at INFO.
for _library in ("botocore", "boto3", "pynamodb", "urllib3"):
    logging.getLogger(_library).setLevel(logging.INFO)

"""Shared fixtures: fake AWS credentials, moto, tables and queues made from template.yaml."""

from __future__ import annotations

import os

# Before anything imports boto3 or the models: fake credentials, one region, and the
# tables and queues the functions get from template.yaml (tables by their logical ids, as
# locally; queues by the URLs moto gives them): the functions need all of them at init.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="eu-south-1",
    AWS_REGION="eu-south-1",
    POWERTOOLS_METRICS_NAMESPACE="PortalAccounts",
    POWERTOOLS_SERVICE_NAME="portal-accounts",
    BUSINESS_NAME="Palestra Aurora",
)
os.environ.pop("AWS_ENDPOINT_URL", None)

from local import template

os.environ.update(template.required_environment(template.emulated_names("eu-south-1")))

import pytest

from tests.helpers import template_aws


@pytest.fixture
def aws():
    """A fresh emulated AWS with every table and queue of the template."""
    with template_aws() as names:
        yield names


@pytest.fixture(scope="module")
def _module_aws():
    """`aws` made once per test module, for tests that empty it between them (tests/unit/
    conftest.py `clean_aws`): a fresh mock costs about 0.3 s a test."""
    with template_aws() as names:
        yield names


# Every AWS call a handler makes is checked against its IAM policy (tests/iam_audit.py):
# the handlers are wrapped before any test module imports them.
from tests import iam_audit  # noqa: E402

iam_audit.wrap_handlers()

IAM_CHECK = "tests/unit/test_iam_policies.py"


def pytest_collection_modifyitems(items):
    # The IAM check reads what every other test recorded: it runs last.
    items.sort(key=lambda item: item.nodeid.startswith(IAM_CHECK))

"""Fake AWS credentials and the template's tables and queues, set before portal_accounts is
imported.

The same set-up as tests/conftest.py: moto in this process, tables named after their
logical ids in template.yaml, queues by the URLs moto gives them (every function needs all
of them at init: config.check_required).
"""

from __future__ import annotations

import os
import sys

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "eu-south-1",
    "AWS_REGION": "eu-south-1",
    "POWERTOOLS_SERVICE_NAME": "portal-accounts",
    "POWERTOOLS_METRICS_NAMESPACE": "PortalAccounts",
    "BUSINESS_NAME": "Palestra Aurora",
}


_prepared = False


def prepare() -> None:
    """Point boto3 and the models at moto: call before importing portal_accounts."""
    global _prepared
    if _prepared:
        return
    if "portal_accounts.models" in sys.modules:
        raise RuntimeError("bench.environment.prepare() must run before portal_accounts loads")
    os.environ.update(FAKE_AWS)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    # Benchmarks print their own results; the handlers' INFO logs would bury them.
    os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")

    from local import template

    names = template.emulated_names(FAKE_AWS["AWS_REGION"])
    os.environ.update(template.required_environment(names))
    _prepared = True


def machine_load() -> str:
    """The 1-minute load average, and a warning when other work shares the cores.

    The benchmark itself keeps about one core busy: more than that is someone else's,
    which makes timings noisy (ratios measured in the same run drift less than times).
    """
    load = os.getloadavg()[0]
    cores = os.cpu_count() or 1
    note = f"load average {load:.1f} on {cores} cores (this benchmark is about 1)"
    if load - 1 > 0.25 * cores:
        note += ": other work is running, expect noise"
    return note

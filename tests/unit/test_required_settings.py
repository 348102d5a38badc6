"""The tables and queues are required settings (config.Required): no default points a
function missing its variable at another table.

- a function whose environment lacks one fails at init, naming the variable (the
  template's environment loads every function: tests/unit/test_lambda_init.py);
- a tool outside Lambda needs only the tables it uses (`make reindex`: two);
- a setting read while unset raises MissingSetting, never gives a name.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bench.cold_start import lambda_environment
from local import template
from portal_accounts.config import (
    REQUIRED,
    MissingSetting,
    Settings,
    check_required,
    get_settings,
)
from portal_accounts.models import ALL_MODELS, AccountModel

FUNCTIONS = template.resources("AWS::Serverless::Function")


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - our own interpreter, a fixed snippet
        [sys.executable, "-c", code],
        env=env,
        cwd=template.ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_the_tables_and_queues_are_the_required_settings():
    globals_ = template.load()["Globals"]["Function"]["Environment"]["Variables"]
    bound = {key for key in globals_ if key.endswith(("_TABLE", "_QUEUE_URL"))}
    assert {name.upper() for name in REQUIRED} == bound


@pytest.mark.parametrize("name", REQUIRED)
def test_a_required_setting_read_while_unset_names_its_variable(name):
    with pytest.raises(MissingSetting) as raised:
        getattr(Settings(), name)
    assert str(raised.value) == (
        f"{name.upper()} is not set: template.yaml's Globals give it to every function"
    )


@pytest.fixture
def settings_read_again():
    """get_settings() reads the environment again, in the test and after it."""
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_the_init_check_names_every_missing_variable(monkeypatch, settings_read_again):
    check_required()
    monkeypatch.delenv("SEARCH_TABLE")
    monkeypatch.delenv("IMPORT_QUEUE_URL")
    get_settings.cache_clear()
    with pytest.raises(MissingSetting) as raised:
        check_required()
    assert str(raised.value) == (
        "SEARCH_TABLE and IMPORT_QUEUE_URL are not set: template.yaml's Globals give them "
        "to every function"
    )


def test_a_model_reads_its_table_when_used(monkeypatch, settings_read_again):
    assert {model.Meta.table_name for model in ALL_MODELS} <= set(
        template.resources("AWS::DynamoDB::Table")
    )
    monkeypatch.setenv("ACCOUNTS_TABLE", "Elsewhere")
    get_settings.cache_clear()
    assert AccountModel.Meta.table_name == "Elsewhere"


@pytest.mark.parametrize(
    ("function", "variable"),
    [
        ("AuthLoginFunction", "ACCOUNTS_TABLE"),
        # Every function checks them all at init (init_done), those it does not use too:
        # me_get queues no import, the assets function reads no table.
        ("MeGetFunction", "IMPORT_QUEUE_URL"),
        ("EmailSenderFunction", "IDEMPOTENCY_TABLE"),
        ("PageAssetsFunction", "SEARCH_TABLE"),
    ],
)
def test_a_function_without_a_table_or_queue_fails_at_init(function, variable):
    env = lambda_environment(function)
    del env[variable]
    module = template.module_of(FUNCTIONS[function])
    run = _python(f"import {module}", env)
    assert run.returncode != 0, f"{module} loaded without {variable}"
    assert (
        f"portal_accounts.config.MissingSetting: {variable} is not set: "
        "template.yaml's Globals give it to every function"
    ) in run.stderr


# `make reindex` gives the module ACCOUNTS_TABLE and SEARCH_TABLE only (README, "Reindex"),
# backfill ACCOUNTS_TABLE only: each runs against moto with just those.
TOOL = """
from moto import mock_aws
with mock_aws():
    from local import resources
    resources.create_tables()
    from portal_accounts import clock
    from portal_accounts.models import AccountModel
    now = clock.now()
    AccountModel(
        username="mario@example.com", password_hash="x", password_changed_at=now,
        created_at=now, customers={"c1": {"first_name": "Mario", "last_name": "Rossi"}},
    ).save()
"""
REINDEX = """
    from portal_accounts.search import reindex
    print("check", reindex.main(["--check"]))
    print("repair", reindex.main([]))
    print("again", reindex.main(["--check"]))
"""
BACKFILL = """
    from portal_accounts.search import backfill
    AccountModel(username="mario@example.com").update(
        actions=[AccountModel.status_shard.remove()]
    )
    backfill.main([])
    print("shard", AccountModel.get("mario@example.com").status_shard is not None)
"""


def _tool_environment(*tables: str) -> dict[str, str]:
    keep = ("PATH", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    env = {key: os.environ[key] for key in keep if key in os.environ}
    env.update(AWS_REGION="eu-south-1", AWS_DEFAULT_REGION="eu-south-1")
    env["PYTHONPATH"] = os.pathsep.join((str(template.ROOT / "shared"), str(template.ROOT)))
    env.update({table: table.title().replace("_", "") for table in tables})
    return env


def test_reindex_runs_with_only_the_accounts_and_search_tables():
    run = _python(TOOL + REINDEX, _tool_environment("ACCOUNTS_TABLE", "SEARCH_TABLE"))
    assert run.returncode == 0, run.stderr
    # The account has no search entries: found behind, repaired, then in line.
    assert {"check 1", "repair 0", "again 0"} <= set(run.stdout.splitlines()), run.stdout


def test_backfill_runs_with_only_the_accounts_table():
    run = _python(TOOL + BACKFILL, _tool_environment("ACCOUNTS_TABLE"))
    assert run.returncode == 0, run.stderr
    assert "shard True" in run.stdout.splitlines(), run.stdout

"""`python -m fuzz` (`make fuzz`): schemathesis against the local stack, from docs/openapi.json.

1. Starts the local stack (`python -m local`) on a free port and waits for it.
2. Takes an operator token from /_local/operator-token, and makes a storefront account for
   the fuzzer alone (a customer and its account, `temporary: false`).
3. Runs `schemathesis run` on the committed document twice, with the checks
   not_a_server_error, status_code_conformance, content_type_conformance and
   response_schema_conformance, credentials per operation from its `security`:
   - "session": the operations secured by storefrontSession, with the fuzzer's session
     (POST /auth/login; a 401 logs in again and replays, so POST /auth/logout does not end
     the run's session for good);
   - "operator and public": every other operation, the operatorJwt ones with the operator
     token, the public ones with no credentials. Second, because operator actions (disable,
     set password, dissociate) could reach the fuzzer's account once a listing shows it.
4. Audits every recorded exchange against the document (fuzz.audit), stops the stack,
   prints a summary, exits 1 on any failure.

Settings (environment): FUZZ_MAX_EXAMPLES (default 20), FUZZ_SEED (default 20240229),
FUZZ_WORKERS (default 2), FUZZ_PHASES (default examples,coverage,fuzzing,stateful),
FUZZ_LONG=1 (longer and randomised: 100 examples, a random seed unless FUZZ_SEED is set),
FUZZ_KEEP_LOGS=1 (keep the stack's log and the reports; kept anyway on failure).
Arguments after `--` go to `schemathesis run` as they are.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import requests

from fuzz.audit import Audit, Document, audit, operations
from fuzz.known_bugs import KNOWN_BUGS
from local.launch import ROOT, LocalStack, StackError, tail

DOCUMENT = ROOT / "docs" / "openapi.json"
HOOKS = Path(__file__).resolve().parent / "hooks.py"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
)
DEFAULT_MAX_EXAMPLES = 20
LONG_MAX_EXAMPLES = 100
DEFAULT_SEED = 20240229
DEFAULT_WORKERS = 2
DEFAULT_PHASES = "examples,coverage,fuzzing,stateful"
# Requests with a method the path does not have: API Gateway answers 404 {"message": "Not
# Found"} (HTTP APIs have no 405). Not TRACE and QUERY: the local gateway (http.server in
# local/gateway.py) has no handler for them and answers 501 itself, which says nothing
# about the API; on AWS, API Gateway answers those too.
UNEXPECTED_METHODS = ("get", "put", "post", "delete", "options", "patch")
SESSION_SCHEME = "storefrontSession"
OPERATOR_SCHEME = "operatorJwt"


@dataclass
class Run:
    name: str
    operation_ids: list[str]
    # The stateful phase follows the document's links; a run whose operations have none
    # between them (the session run) skips it, as schemathesis would refuse to run it.
    stateful: bool = True
    exit_code: int | None = None
    report: dict = field(default_factory=dict)
    filtered: Counter = field(default_factory=Counter)
    audit: Audit = field(default_factory=Audit)
    seconds: float = 0.0


@dataclass
class Settings:
    max_examples: int
    seed: int
    workers: int
    phases: str
    deterministic: bool
    extra: list[str]

    @classmethod
    def from_environment(cls, argv: list[str]) -> Settings:
        long = os.environ.get("FUZZ_LONG", "") not in ("", "0")
        seed = os.environ.get("FUZZ_SEED")
        examples = os.environ.get("FUZZ_MAX_EXAMPLES")
        return cls(
            max_examples=int(examples or (LONG_MAX_EXAMPLES if long else DEFAULT_MAX_EXAMPLES)),
            seed=int(seed) if seed else (secrets.randbelow(2**31) if long else DEFAULT_SEED),
            workers=int(os.environ.get("FUZZ_WORKERS") or DEFAULT_WORKERS),
            phases=os.environ.get("FUZZ_PHASES") or DEFAULT_PHASES,
            deterministic=not long,
            extra=argv[argv.index("--") + 1 :] if "--" in argv else [],
        )


# ---- the fuzzer's storefront account --------------------------------------------------------


def operator_token(base_url: str) -> str:
    response = requests.get(f"{base_url}/_local/operator-token", timeout=10)
    response.raise_for_status()
    return response.json()["token"]


def session_account(base_url: str, token: str) -> tuple[str, str]:
    """A customer and its account, for the fuzzer alone: (username, password)."""
    auth = {"Authorization": f"Bearer {token}"}
    username = f"fuzz.session.{secrets.token_hex(4)}@example.com"
    password = secrets.token_urlsafe(24)
    customer = requests.post(
        f"{base_url}/operator/customers",
        json={"first_name": "Fuzz", "last_name": "Session", "email": username},
        headers=auth,
        timeout=30,
    )
    if customer.status_code != 201:
        raise StackError(f"creating the fuzzer's customer: {customer.status_code} {customer.text}")
    account = requests.post(
        f"{base_url}/operator/customers/{customer.json()['customer_id']}/account",
        json={"password": password, "temporary": False},
        headers=auth,
        timeout=30,
    )
    if account.status_code != 201:
        raise StackError(f"creating the fuzzer's account: {account.status_code} {account.text}")
    login = requests.post(
        f"{base_url}/auth/login", json={"username": username, "password": password}, timeout=30
    )
    if login.status_code != 200:
        raise StackError(f"the fuzzer's first login: {login.status_code} {login.text}")
    return username, password


# ---- schemathesis ---------------------------------------------------------------------------


def _toml(value: object) -> str:
    """TOML for the few value types used here (JSON strings are TOML basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    raise TypeError(type(value))


def config_text() -> str:
    """schemathesis.toml: credentials per security scheme, read from the environment."""
    session_login = {"username": "${FUZZ_SESSION_USERNAME}", "password": "${FUZZ_SESSION_PASSWORD}"}
    return "\n".join(
        [
            "[auth]",
            # The document's login is fuzzed like any operation, not used to sign up.
            "auto-signup = false",
            "",
            f"[auth.openapi.{OPERATOR_SCHEME}]",
            'bearer = "${FUZZ_OPERATOR_TOKEN}"',
            "",
            # A session from POST /auth/login; on a 401 (the session ended: POST
            # /auth/logout) schemathesis logs in again and replays the request.
            f"[auth.dynamic.openapi.{SESSION_SCHEME}]",
            'path = "/auth/login"',
            'method = "post"',
            f"payload = {_toml(session_login)}",
            'extract_selector = "/token"',
            "retry_on = [401]",
            "",
            "[phases.coverage]",
            f"unexpected-methods = {_toml(UNEXPECTED_METHODS)}",
            "",
        ]
    )


def run_schemathesis(
    run: Run, base_url: str, settings: Settings, workdir: Path, env: dict[str, str]
) -> None:
    slug = run.name.replace(" ", "-")
    json_report, har_report = workdir / f"{slug}.json", workdir / f"{slug}.har"
    filtered = workdir / f"{slug}-filtered.json"
    phases = ",".join(
        phase for phase in settings.phases.split(",") if run.stateful or phase != "stateful"
    )
    command = [
        sys.executable, "-m", "schemathesis.cli",
        "--config-file", str(workdir / "schemathesis.toml"),
        "run", str(DOCUMENT),
        "--url", base_url,
        "--checks", ",".join(CHECKS),
        "--phases", phases,
        "--max-examples", str(settings.max_examples),
        "--seed", str(settings.seed),
        "--workers", str(settings.workers),
        "--request-timeout", "30",
        "--report", "json,har",
        "--report-json-path", str(json_report),
        "--report-har-path", str(har_report),
    ]  # fmt: skip
    # A deterministic run keeps no example database; a random one is told to keep none.
    if settings.deterministic:
        command.append("--generation-deterministic")
    else:
        command += ["--generation-database", "none"]
    for operation_id in run.operation_ids:
        command += ["--include-operation-id", operation_id]
    command += settings.extra
    print(f"\n== fuzz: {run.name} ({len(run.operation_ids)} operations) ==", flush=True)
    started = time.monotonic()
    # In the work folder, so that schemathesis's cache and reports stay out of the repository.
    completed = subprocess.run(  # noqa: S603 (our own argv, no shell)
        command, cwd=workdir, env={**env, "FUZZ_FILTERED_PATH": str(filtered)}, check=False
    )
    run.seconds = time.monotonic() - started
    run.exit_code = completed.returncode
    if json_report.is_file():
        run.report = json.loads(json_report.read_text())
    if filtered.is_file():
        run.filtered = Counter(json.loads(filtered.read_text()))
    if har_report.is_file():
        run.audit = audit(
            Document(json.loads(DOCUMENT.read_text())), json.loads(har_report.read_text())
        )


# ---- summary --------------------------------------------------------------------------------


def unauthenticated(runs: list[Run], secured: list[str]) -> list[str]:
    """Secured operations with no answer but 401: the credentials never reached them."""
    statuses: dict[str, Counter] = {}
    for run in runs:
        for label, counter in run.audit.statuses.items():
            statuses.setdefault(label, Counter()).update(counter)
    return [label for label in secured if not set(statuses.get(label, {})) - {401}]


def _failures(report: dict) -> int:
    failures = report.get("failures")
    if isinstance(failures, dict):
        return int(failures.get("total", 0))
    if isinstance(failures, list):
        return sum(int(item.get("count", 1)) for item in failures)
    return 0


def failed_operations(runs: list[Run]) -> set[str]:
    """'METHOD /path' of every operation with a schemathesis failure or an audit finding."""
    failed: set[str] = set()
    for run in runs:
        failures = run.report.get("failures")
        for item in failures if isinstance(failures, list) else []:
            failed.update(item.get("operations") or [])
        failed.update(finding.split(":", 1)[0] for finding in run.audit.findings)
    return failed


def summary(runs: list[Run], settings: Settings, problems: list[str], operation_count: int) -> str:
    mode = "deterministic" if settings.deterministic else f"seed {settings.seed}"
    lines = [
        "",
        "== fuzz summary ==",
        f"{mode}, at most {settings.max_examples} examples per operation and phase, "
        f"phases {settings.phases}",
        f"checks: {', '.join(CHECKS)}, then an audit of every exchange against the document",
    ]
    for run in runs:
        ops = run.report.get("operations") or {}
        cases = run.report.get("test_cases") or {}
        lines.append(
            f"{run.name}: {ops.get('tested', '?')}/{ops.get('selected', '?')} operations, "
            f"{cases.get('generated', '?')} test cases, {run.audit.exchanges} requests, "
            f"{_failures(run.report)} schemathesis failures, {len(run.audit.findings)} audit "
            f"findings, exit {run.exit_code}, {run.seconds:.0f}s"
        )
        elsewhere: Counter = Counter()
        for label, statuses in sorted(run.audit.statuses.items()):
            if label.endswith(")"):  # another method or path than the document's
                elsewhere.update(statuses)
                continue
            counts = ", ".join(f"{s}x{n}" for s, n in sorted(statuses.items()))
            lines.append(f"    {label}: {counts}")
        if elsewhere:
            counts = ", ".join(f"{s}x{n}" for s, n in sorted(elsewhere.items()))
            lines.append(f"    (methods the paths do not have): {counts}")
        for finding, count in sorted(run.audit.findings.items()):
            lines.append(f"  audit: {finding} (x{count})")
    filtered = sum((run.filtered for run in runs), Counter())
    tolerated = sum((run.audit.tolerated for run in runs), Counter())
    for bug in KNOWN_BUGS:
        lines.append(
            f"known bug {bug.id}: {filtered[bug.id]} cases left out, {tolerated[bug.id]} answers "
            f"tolerated: {bug.summary}"
        )
    lines += [f"problem: {problem}" for problem in problems]
    # The closing line, in the form CI reads: operations that passed and failed.
    failed = len(failed_operations(runs)) or (1 if problems else 0)
    lines.append(f"fuzz: {operation_count - min(failed, operation_count)} passed, {failed} failed")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    settings = Settings.from_environment(argv)
    document = json.loads(DOCUMENT.read_text())
    session_ids, other_ids, secured = [], [], []
    for method, path, operation in operations(document):
        schemes = {name for requirement in operation.get("security", []) for name in requirement}
        (session_ids if SESSION_SCHEME in schemes else other_ids).append(operation["operationId"])
        if schemes:
            secured.append(f"{method} {path}")
    runs = [Run("session", session_ids, stateful=False), Run("operator and public", other_ids)]

    workdir = Path(tempfile.mkdtemp(prefix="fuzz-"))
    stack = None
    problems: list[str] = []
    try:
        stack = LocalStack.start(workdir)
        print(f"fuzz: local stack on {stack.base_url}", flush=True)
        token = operator_token(stack.base_url)
        username, password = session_account(stack.base_url, token)
        (workdir / "schemathesis.toml").write_text(config_text())
        env = {
            **os.environ,
            "FUZZ_OPERATOR_TOKEN": token,
            "FUZZ_SESSION_USERNAME": username,
            "FUZZ_SESSION_PASSWORD": password,
            "SCHEMATHESIS_HOOKS": str(HOOKS),
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        for run in runs:
            run_schemathesis(run, stack.base_url, settings, workdir, env)
            if stack.process.poll() is not None:
                problems.append(f"the local stack died (exit {stack.process.returncode})")
                break
    except (StackError, requests.RequestException) as error:
        problems.append(str(error))
    finally:
        if stack is not None:
            stack.stop()
    for run in runs:
        if run.exit_code not in (None, 0):
            problems.append(f"{run.name}: schemathesis exited {run.exit_code}")
        problems += [f"{run.name}: audit: {finding}" for finding in run.audit.findings]
    problems += [
        f"{label}: no answer but 401, the credentials never reached it"
        for label in unauthenticated(runs, secured)
    ]
    # The gateway logs a handler that raised, an authorizer that failed, a bad response.
    log = tail(workdir / "stack-stderr.log", 10**8).splitlines()
    errors = [line for line in log if line.startswith("local gateway")]
    # The email worker (the sender function on the queue): a send that failed is retried
    # and reported on the account (F15); a worker that crashed is a bug.
    errors += [line for line in log if line.startswith("email worker: polling failed")]
    if errors:
        problems.append(f"the local stack logged {len(errors)} errors, e.g. {errors[0]}")
    failed_sends = [line for line in log if line.startswith("email worker:") and "failed" in line]
    if failed_sends:
        print(f"fuzz: note: the email worker logged {len(failed_sends)} failed sends", flush=True)
    keep = bool(problems) or os.environ.get("FUZZ_KEEP_LOGS", "") not in ("", "0")
    if keep:
        print(f"fuzz: the stack's log and the reports are in {workdir}", flush=True)
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    print(summary(runs, settings, problems, len(session_ids) + len(other_ids)), flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""`make mutation`: mutmut on the security modules, a score per module, the survivors.

    python -m mutation                                   # the security modules
    python -m mutation shared/portal_accounts/links.py   # one module (MUTATE=...)

mutmut 3 names a module after its file's path, stripping only `src/`, while pytest imports
ours as `portal_accounts` from `shared/`: mutated under `shared/`, mutmut would expect
`shared.portal_accounts.x` and never see its mutants run. So the run happens in a staged
copy, `.mutation/stage/`, with the package at `src/portal_accounts`, the tests and what
they read beside it, and a pyproject whose pythonpath is `src` and which configures
mutmut. Each run starts from a fresh copy: results never come from older code or tests.

The report (`.mutation/report.md`) has the score per module, which is killed / (mutants
- skipped), timeouts counted as killed, and the diff of every mutant that was not killed.
Mutants a test can never kill are marked in the code with `# pragma: no mutate`, each with
its reason in docs/testing.md.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path("shared/portal_accounts")
WORK = ROOT / ".mutation"
STAGE = WORK / "stage"
REPORT = WORK / "report.md"

# The modules that decide who gets in, and their goal (docs/testing.md).
SECURITY_MODULES = ("auth", "throttle", "passwords", "sessions", "links", "recovery")
GOAL = 90.0

# What the tests import or read, besides the package and tests/ (mutmut copies those).
ALSO_COPY = ("functions", "local", "events", "docs", "template.yaml")
# The unit tests of the security rules. Each mutant runs against the tests of this list that
# called its function (mutmut records which): the other unit tests (templates, listing,
# customers, the IAM audit, each function in a fresh interpreter...) would add minutes to
# the run and kill next to nothing here.
TESTS = (
    "test_passwords.py",
    "test_password_guessing.py",
    "test_throttle_concurrency.py",
    "test_storefront_login.py",
    "test_storefront_sessions.py",
    "test_storefront_recovery.py",
    "test_storefront_concurrency.py",
    "test_races.py",
    "test_system_faults.py",
    "test_no_secrets_in_logs.py",
    "test_operator_accounts.py",
    "test_operator_unlock.py",
    "test_email_operator.py",
    "test_security_rules_*.py",
)
MAX_CHILDREN = 2  # the machine's cores
KILLED = {"killed", "timeout"}


def _module_file(name: str) -> str:
    """src/portal_accounts/links.py for shared/portal_accounts/links.py (or links, links.py)."""
    stem = Path(name).name.removesuffix(".py")
    if not (ROOT / PACKAGE / f"{stem}.py").is_file():
        sys.exit(f"mutation: no module {name!r} in {PACKAGE}")
    return f"src/portal_accounts/{stem}.py"


def _tests() -> list[str]:
    unit = ROOT / "tests/unit"
    return [str(path.relative_to(ROOT)) for name in TESTS for path in sorted(unit.glob(name))]


def _pyproject(modules: list[str]) -> str:
    """The repository's pyproject, with the package under src/ and mutmut's settings."""
    text = (ROOT / "pyproject.toml").read_text()
    text, replaced = re.subn(r"(?m)^pythonpath = .*$", 'pythonpath = ["src", "."]', text)
    assert replaced == 1, "pyproject.toml: no pytest pythonpath to rewrite"
    settings = {
        "source_paths": ["src/portal_accounts"],
        "only_mutate": modules,
        "also_copy": list(ALSO_COPY),
        "pytest_add_cli_args_test_selection": _tests(),
        # No git in the stage, and every run is fresh: nothing to detect.
        "use_git_change_detection": False,
    }
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    return text + "\n[tool.mutmut]\n" + "\n".join(lines) + "\n"


def stage(modules: list[str]) -> None:
    shutil.rmtree(STAGE, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / PACKAGE, STAGE / "src/portal_accounts", ignore=ignore)
    for name in (*ALSO_COPY, "tests"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, STAGE / name, ignore=ignore)
        else:
            shutil.copy2(source, STAGE / name)
    (STAGE / "pyproject.toml").write_text(_pyproject(modules))


def mutmut(*args: str, capture: bool = False) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "mutmut", *args],
        cwd=STAGE,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    return done.stdout or ""


def results() -> dict[str, dict[str, str]]:
    """{module file: {mutant name: status}} from `mutmut results --all`."""
    by_module: dict[str, dict[str, str]] = defaultdict(dict)
    for line in mutmut("results", "--all", "true", capture=True).splitlines():
        name, _, status = line.strip().rpartition(": ")
        if "__mutmut_" in name:
            module = name.split(".")[1]  # portal_accounts.<module>.x_function__mutmut_N
            by_module[f"{PACKAGE}/{module}.py"][name] = status
    return by_module


def score(statuses: dict[str, str]) -> tuple[float, Counter]:
    counts = Counter(statuses.values())
    tested = len(statuses) - counts["skipped"]
    killed = sum(counts[status] for status in KILLED)
    return (100.0 * killed / tested if tested else 100.0), counts


def report(by_module: dict[str, dict[str, str]], minutes: float) -> str:
    rows = [
        "| module | mutants | killed | survived | other | score |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    details = []
    for module, statuses in sorted(by_module.items()):
        percent, counts = score(statuses)
        killed = sum(counts[status] for status in KILLED)
        other = len(statuses) - killed - counts["survived"] - counts["skipped"]
        flag = "" if percent >= GOAL else " (below the goal)"
        rows.append(
            f"| `{module}` | {len(statuses)} | {killed} | {counts['survived']} | {other} "
            f"| {percent:.1f}%{flag} |"
        )
        for name, status in statuses.items():
            if status not in KILLED and status != "skipped":
                shown = mutmut("show", name, capture=True).strip()
                diff = shown.partition("\n")[2]  # without its first line, the heading
                details.append(f"### {name}: {status}\n\n```diff\n{diff}\n```\n")
    everything = {name: s for statuses in by_module.values() for name, s in statuses.items()}
    total, _ = score(everything)
    return "\n".join(
        [
            "# Mutation testing of the security modules",
            "",
            f"mutmut {_version()}, {minutes:.0f} minutes; goal {GOAL:.0f}% per module; "
            f"all modules {total:.1f}%.",
            "",
            *rows,
            "",
            "## Mutants not killed",
            "",
            *(details or ["None."]),
        ]
    )


def _version() -> str:
    from importlib.metadata import version

    return version("mutmut")


def main(argv: list[str]) -> int:
    modules = [_module_file(name) for name in argv or SECURITY_MODULES]
    started = time.monotonic()
    stage(modules)
    mutmut("run", "--max-children", str(MAX_CHILDREN))
    minutes = (time.monotonic() - started) / 60
    by_module = results()
    text = report(by_module, minutes)
    REPORT.write_text(text + "\n")
    print(text.partition("## Mutants not killed")[0].rstrip())
    print(f"\nThe survivors, with their diffs: {REPORT.relative_to(ROOT)}")
    below = [m for m, statuses in by_module.items() if score(statuses)[0] < GOAL]
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

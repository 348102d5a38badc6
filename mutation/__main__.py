"""`make mutation`: mutmut on the security modules, a score per module, the survivors.

    python -m mutation                                   # the security modules
    python -m mutation shared/portal_accounts/credentials/links.py  # one (MUTATE=...)

mutmut 3 names a module after its file's path, stripping only `src/`, while pytest imports
ours as `portal_accounts` from `shared/`: mutated under `shared/`, mutmut would expect
`shared.portal_accounts.x` and never see its mutants run. So each module's run happens in
a staged copy, `.mutation/<module>/`, with the package at `src/portal_accounts`, the tests
and what they read beside it, and a pyproject whose pythonpath is `src` and which
configures mutmut. Every run starts from a fresh copy: no result comes from older code or
tests.

The report (`.mutation/report.md`) has the score per module, which is killed / (mutants
- skipped), timeouts counted as killed, and the diff of every mutant that was not killed.
Mutants no test can kill (equivalent ones) stay in the count as survivors; docs/testing.md
lists them with the reason.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = Path("shared/portal_accounts")
WORK = ROOT / ".mutation"
REPORT = WORK / "report.md"

# Each security module, with the unit tests of its rules (and tests/unit/
# test_security_rules_*.py, written for all of them). mutmut runs a mutant against the
# tests of its module's list that called the mutated function (it records which): the
# other tests that merely log in or set a password on the way (templates, listing, the
# operator's routes...) kill next to nothing here and would make a surviving mutant of
# login() cost minutes. test_system_faults.py goes with throttle and sessions, the modules
# with fault paths of their own (an attempt released after a timeout, the authorizer's
# 503). One mutmut run per module, each in its own staged copy.
RULES = "test_security_rules_*.py"
MODULE_TESTS = {
    "auth": (
        "test_storefront_login.py",
        "test_storefront_sessions.py",
        "test_password_guessing.py",
        "test_operator_unlock.py",
        "test_last_login.py",
    ),
    "throttle": (
        "test_password_guessing.py",
        "test_throttle_concurrency.py",
        "test_storefront_login.py",
        "test_operator_unlock.py",
        "test_system_faults.py",
    ),
    "passwords": ("test_passwords.py",),
    "sessions": ("test_storefront_sessions.py", "test_system_faults.py"),
    "links": ("test_storefront_recovery.py", "test_storefront_concurrency.py"),
    "recovery": (
        "test_storefront_recovery.py",
        "test_storefront_concurrency.py",
        "test_password_guessing.py",
    ),
}
# Where each module lives in the package (each name is unique in it).
MODULE_PATHS = {
    module: str(next((ROOT / PACKAGE).rglob(f"{module}.py")).relative_to(ROOT / PACKAGE))
    for module in MODULE_TESTS
}
GOAL = 90.0

# What the tests import or read, besides the package and tests/ (mutmut copies those).
ALSO_COPY = ("functions", "local", "events", "docs", "template.yaml")
# The stage's root conftest: each mutant's tests fastest first (mutmut stops at the first
# failure).
STAGE_CONFTEST = Path(__file__).with_name("stage_conftest.py")
MAX_CHILDREN = 2  # the machine's cores
KILLED = {"killed", "timeout"}


def _module(name: str) -> str:
    """links, for shared/portal_accounts/credentials/links.py (or links.py, or links)."""
    stem = Path(name).name.removesuffix(".py")
    if stem not in MODULE_TESTS:
        sys.exit(f"mutation: {name!r} is none of the security modules: {', '.join(MODULE_TESTS)}")
    return stem


def _tests(module: str) -> list[str]:
    unit = ROOT / "tests/unit"
    names = (*MODULE_TESTS[module], RULES)
    paths = [path for name in names for path in sorted(unit.glob(name))]
    return [str(path.relative_to(ROOT)) for path in paths]


def _pyproject(module: str) -> str:
    """The repository's pyproject, with the package under src/ and mutmut's settings."""
    text = (ROOT / "pyproject.toml").read_text()
    text, replaced = re.subn(r"(?m)^pythonpath = .*$", 'pythonpath = ["src", "."]', text)
    assert replaced == 1, "pyproject.toml: no pytest pythonpath to rewrite"
    settings = {
        "source_paths": ["src/portal_accounts"],
        "only_mutate": [f"src/portal_accounts/{MODULE_PATHS[module]}"],
        "also_copy": [*ALSO_COPY, "conftest.py"],
        "pytest_add_cli_args_test_selection": _tests(module),
        # No git in the stage, and every run is fresh: nothing to detect.
        "use_git_change_detection": False,
    }
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items()]
    return text + "\n[tool.mutmut]\n" + "\n".join(lines) + "\n"


def stage(module: str) -> Path:
    """A fresh copy of what the module's tests need, with the package under src/."""
    where = WORK / module
    shutil.rmtree(where, ignore_errors=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / PACKAGE, where / "src/portal_accounts", ignore=ignore)
    shutil.copy2(STAGE_CONFTEST, where / "conftest.py")
    for name in (*ALSO_COPY, "tests"):
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, where / name, ignore=ignore)
        else:
            shutil.copy2(source, where / name)
    (where / "pyproject.toml").write_text(_pyproject(module))
    return where


def mutmut(where: Path, *args: str, capture: bool = False) -> str:
    done = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-m", "mutmut", *args],
        cwd=where,
        check=True,
        text=True,
        stdout=subprocess.PIPE if capture else None,
    )
    return done.stdout or ""


def results(where: Path) -> dict[str, str]:
    """{mutant name: status} from `mutmut results --all`."""
    statuses = {}
    for line in mutmut(where, "results", "--all", "true", capture=True).splitlines():
        name, _, status = line.strip().rpartition(": ")
        if "__mutmut_" in name:
            statuses[name] = status
    return statuses


def score(statuses: dict[str, str]) -> float:
    tested = [status for status in statuses.values() if status != "skipped"]
    killed = sum(status in KILLED for status in tested)
    return 100.0 * killed / len(tested) if tested else 100.0


def survivors(where: Path, statuses: dict[str, str]) -> list[str]:
    """Each mutant not killed, with its diff."""
    shown = []
    for name, status in statuses.items():
        if status not in KILLED and status != "skipped":
            diff = mutmut(where, "show", name, capture=True).strip().partition("\n")[2]
            shown.append(f"### {name}: {status}\n\n```diff\n{diff}\n```\n")
    return shown


def report(runs: dict[str, tuple[dict[str, str], float, list[str]]]) -> str:
    rows = [
        "| module | mutants | killed | not killed | score | minutes |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    details = []
    for module, (statuses, minutes, shown) in runs.items():
        killed = sum(status in KILLED for status in statuses.values())
        percent = score(statuses)
        flag = "" if percent >= GOAL else " (below the goal)"
        rows.append(
            f"| `{PACKAGE}/{MODULE_PATHS[module]}` | {len(statuses)} | {killed} | {len(shown)} "
            f"| {percent:.1f}%{flag} | {minutes:.0f} |"
        )
        details += shown
    everything = {name: s for statuses, _, _ in runs.values() for name, s in statuses.items()}
    total = sum(minutes for _, minutes, _ in runs.values())
    return "\n".join(
        [
            "# Mutation testing of the security modules",
            "",
            f"mutmut {version('mutmut')}, {total:.0f} minutes; goal {GOAL:.0f}% per module; "
            f"all of them {score(everything):.1f}%.",
            "",
            *rows,
            "",
            "## Mutants not killed",
            "",
            *(details or ["None."]),
        ]
    )


def main(argv: list[str]) -> int:
    modules = [_module(name) for name in argv] or list(MODULE_TESTS)
    runs = {}
    for module in modules:
        started = time.monotonic()
        where = stage(module)
        mutmut(where, "run", "--max-children", str(MAX_CHILDREN))
        statuses = results(where)
        runs[module] = (statuses, (time.monotonic() - started) / 60, survivors(where, statuses))
        text = report(runs)
        REPORT.write_text(text + "\n")  # after each module: a long run reports as it goes
    print(text.partition("## Mutants not killed")[0].rstrip())
    print(f"\nThe mutants not killed, with their diffs: {REPORT.relative_to(ROOT)}")
    return 0 if all(score(statuses) >= GOAL for statuses, _, _ in runs.values()) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

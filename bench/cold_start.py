"""Cold start: importing each handler costs little more than importing boto3.

For every function of template.yaml, `import functions.<folder>.app` runs in a fresh
interpreter (this venv's Python, PYTHONPATH=shared:. as the layer and the function's
folder are on Lambda) with the environment Lambda would give that function: the
template's Globals and the function's own variables (table names, queue URL, settings),
the fake credentials and region, and Lambda's own AWS_LAMBDA_* variables. The child
times the import alone (wall time with time.perf_counter(), and its CPU time as a
cross-check that other work on the machine hardly disturbs); a bare `import boto3` in
the same environment is the yardstick. Every target runs once to warm the bytecode cache
and the page cache, then `--runs` times in a shuffled round-robin (so drift hits every
target alike); the medians are compared. The floors time only the libraries a function
on this stack cannot avoid, to show what our own code adds (and one row what the
validating resolver we no longer use would).

For the worst handlers and the lightest, `python -X importtime` shows where the time
goes: the modules with the most self time, the imports our code makes that cost the
most (cumulative, with the chain of our modules that pulls them in), and self time by
package with the modules of ours that import each package at module level. Numbers
under -X importtime run higher than the timed imports; they rank, not measure. Last,
the worst handler and boto3 are imported once with no bytecode cache at all (what a
layer shipped without .pyc pays on every cold start).
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import random
import statistics
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from bench import environment
from local import template

ROOT = Path(__file__).resolve().parent.parent
GOAL = 1.3
WORST_SHOWN = 3
TOP = 5
TOP_PACKAGES = 8
OUR_PACKAGES = ("functions", "portal_accounts")
BASELINE = "boto3"
# Wall time (what the goal is about) and this process's CPU time (a cross-check that
# other work on the machine barely disturbs: waiting for a core is not counted).
TIMER = (
    "import time\n"
    "wall, cpu = time.perf_counter(), time.process_time()\n"
    "{code}\n"
    "print(time.perf_counter() - wall, time.process_time() - cpu)\n"
)
# What any function on this stack must load, whatever our code does: the floor, timed with
# collection on (as boto3) and paused (as our functions' init on Lambda, see
# portal_accounts/__init__). And, for comparison, the libraries of the resolver our API
# functions used before portal_accounts.api.app (Powertools' validating one, pydantic).
FLOORS = {
    "floor: every function's libraries": (
        "import pynamodb.models\nfrom aws_lambda_powertools import Logger\nLogger()"
    ),
    "floor, collection paused": (
        "import gc\ngc.disable()\n"
        "import pynamodb.models\nfrom aws_lambda_powertools import Logger\nLogger()"
    ),
    "was: + Powertools' validating resolver": (
        "import pynamodb.models\n"
        "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver\n"
        "APIGatewayHttpResolver(enable_validation=True)"
    ),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("cold_start")
    group.add_argument(
        "--runs",
        type=int,
        default=5,
        help="timed imports per handler, in fresh interpreters (default: 5; --quick: 3)",
    )


@dataclass(frozen=True)
class Target:
    label: str  # the module imported, or what the code stands for
    function: str  # logical id in template.yaml (the others borrow the first one's)
    code: str = ""  # what is timed; by default `import <label>`

    @property
    def statement(self) -> str:
        return self.code or f"import {self.label}"


def targets() -> list[Target]:
    functions = template.resources("AWS::Serverless::Function")
    return [Target(template.module_of(resource), name) for name, resource in functions.items()]


def lambda_environment(function: str) -> dict[str, str]:
    """What Lambda sets for this function, with names of the local emulation."""
    region = environment.FAKE_AWS["AWS_REGION"]
    names = template.emulated_names(region)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": "C.UTF-8",
        "TZ": ":UTC",
        "PYTHONPATH": os.pathsep.join((str(ROOT / "shared"), str(ROOT))),
        **environment.FAKE_AWS,
        **template.function_environment(function, names),
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "1024",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "_HANDLER": "app.handler",
    }
    return env


def timed_import(statement: str, env: dict[str, str]) -> tuple[float, float]:
    """Seconds the statement (an import) takes in a fresh interpreter: wall, CPU."""
    completed = subprocess.run(  # noqa: S603 - our own interpreter, a fixed snippet
        [sys.executable, "-c", TIMER.format(code=statement)],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{statement!r} failed:\n{completed.stderr}")
    wall, cpu = completed.stdout.strip().splitlines()[-1].split()
    return float(wall), float(cpu)


@dataclass
class Node:
    """One line of -X importtime: a module, its own time and its subtree's (µs)."""

    name: str
    self_us: int
    cumulative_us: int
    children: list[Node] = field(default_factory=list)

    @property
    def package(self) -> str:
        return self.name.split(".")[0]

    @property
    def ours(self) -> bool:
        return self.package in OUR_PACKAGES


def import_tree(module: str, env: dict[str, str]) -> list[Node]:
    """-X importtime's lines as a tree; returns the roots our import made."""
    completed = subprocess.run(  # noqa: S603 - our own interpreter, a fixed snippet
        [sys.executable, "-X", "importtime", "-c", f"import {module}"],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    pending: dict[int, list[Node]] = {}  # depth -> nodes waiting for their parent
    for line in completed.stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        self_us, cumulative_us, name = line.removeprefix("import time:").split("|")
        depth = (len(name) - len(name.lstrip(" ")) - 1) // 2
        node = Node(name.strip(), int(self_us), int(cumulative_us))
        # A module's line follows its children's (it finishes after them).
        node.children = pending.pop(depth + 1, [])
        pending.setdefault(depth, []).append(node)
    return [root for root in pending.get(0, []) if root.ours]


def _walk(nodes: list[Node], parent: Node | None = None, chain: tuple[str, ...] = ()):
    """(node, its importer, the chain of our modules above it, innermost first)."""
    for node in nodes:
        yield node, parent, chain
        inner = (node.name, *chain) if node.ours else chain
        yield from _walk(node.children, node, inner)


def _short(chain: tuple[str, ...]) -> str:
    return " <- ".join(name.removeprefix("portal_accounts.") for name in chain)


def _ms(us: float) -> str:
    return f"{us / 1000:.1f} ms"


def explain(module: str, env: dict[str, str]) -> None:
    roots = import_tree(module, env)
    nodes = list(_walk(roots))
    total = sum(root.cumulative_us for root in roots)
    print(f"    {module}: {_ms(total)} under -X importtime")
    by_self = sorted(nodes, key=lambda entry: entry[0].self_us, reverse=True)[:TOP]
    print(
        "      most self time: "
        + ", ".join(f"{node.name} {_ms(node.self_us)}" for node, _, _ in by_self)
    )
    # The costly imports our code makes: modules outside our packages imported by ours.
    direct = [
        (node, chain)
        for node, parent, chain in nodes
        if not node.ours and parent is not None and parent.ours
    ]
    direct.sort(key=lambda entry: entry[0].cumulative_us, reverse=True)
    print("      costliest imports made by our code (cumulative, then who imports it):")
    for node, chain in direct[:TOP]:
        print(f"        {node.name:<42} {_ms(node.cumulative_us):>9}  <- {_short(chain)}")
    packages: Counter = Counter()
    first_importer: dict[str, str] = {}  # package -> package of whatever imported it first
    for node, parent, _ in nodes:
        packages[node.package] += node.self_us
        if parent is not None and parent.package != node.package:
            first_importer.setdefault(node.package, parent.package)
    ours = [node.name for node, _, _ in nodes if node.ours]
    print("      self time by package, and which of our modules import it at module level:")
    for package, us in packages.most_common(TOP_PACKAGES):
        if package in OUR_PACKAGES:
            how = "our own modules (class bodies, schema dataclasses, routes read at import)"
        else:
            importers = [name for name in ours if package in module_level_imports(name)]
            how = ", ".join(_short((name,)) for name in importers) or (
                f"via {first_importer.get(package, '?')}"
            )
        print(f"        {package:<24} {_ms(us):>9}  {how}")


def module_level_imports(module: str) -> set[str]:
    """Top-level packages a module of ours imports when it loads (not inside functions)."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return set()
    tree = ast.parse(Path(spec.origin).read_text())
    found: set[str] = set()
    statements = list(tree.body)
    while statements:
        statement = statements.pop()
        if isinstance(statement, ast.Import):
            found |= {alias.name.split(".")[0] for alias in statement.names}
        elif isinstance(statement, ast.ImportFrom) and statement.module and not statement.level:
            found.add(statement.module.split(".")[0])
        elif isinstance(statement, ast.Try):
            statements += statement.body
    return found


def no_bytecode_import(module: str, env: dict[str, str]) -> float:
    """The import with an empty bytecode cache, nothing written: every module compiled."""
    with tempfile.TemporaryDirectory() as cache:
        no_cache = {**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": cache}
        return timed_import(f"import {module}", no_cache)[0]


def run(args: argparse.Namespace) -> bool:
    runs = max(1, min(args.runs, 3) if args.quick else args.runs)
    handlers = targets()
    first = handlers[0].function
    floors = [Target(label, first, code) for label, code in FLOORS.items()]
    everyone = [Target(BASELINE, first), *floors, *handlers]
    envs = {t.function: lambda_environment(t.function) for t in handlers}
    print(
        f"  {len(handlers)} handlers of template.yaml and a bare `import {BASELINE}`, each in a "
        f"fresh interpreter with its Lambda environment; median of {runs} runs "
        f"(Python {sys.version.split()[0]}, {os.cpu_count()} cores)",
        flush=True,
    )
    for target in everyone:  # warm-up: bytecode compiled, files in the page cache
        timed_import(target.statement, envs[target.function])
    times: dict[str, list[float]] = {t.label: [] for t in everyone}
    cpu_times: dict[str, list[float]] = {t.label: [] for t in everyone}
    rng = random.Random(args.seed)
    for _ in range(runs):
        order = everyone[:]
        rng.shuffle(order)
        for target in order:
            wall, cpu = timed_import(target.statement, envs[target.function])
            times[target.label].append(wall)
            cpu_times[target.label].append(cpu)
    functions = {t.label: t.function for t in handlers}
    baseline = statistics.median(times[BASELINE])
    ratios = {t.label: statistics.median(times[t.label]) / baseline for t in everyone}
    print(
        f"    bare import {BASELINE}: {baseline * 1000:.0f} ms "
        f"(runs {', '.join(f'{s * 1000:.0f}' for s in times[BASELINE])} ms; CPU time "
        f"{statistics.median(cpu_times[BASELINE]) * 1000:.0f} ms); "
        f"{environment.machine_load()}"
    )
    width = max(len(t.label) for t in everyone)
    cpu_baseline = statistics.median(cpu_times[BASELINE])
    print(f"    {'handler':<{width}}  median     min  x boto3  (CPU time: x boto3)")
    ranked = sorted((t.label for t in handlers), key=ratios.get, reverse=True)
    for label in [*ranked, *(t.label for t in floors)]:
        ratio = ratios[label]
        verdict = ("OK" if ratio <= GOAL else "OVER") if label in functions else ""
        print(
            f"    {label:<{width}}  {statistics.median(times[label]) * 1000:>3.0f} ms  "
            f"{min(times[label]) * 1000:>3.0f} ms  {ratio:>7.2f}  "
            f"({statistics.median(cpu_times[label]) / cpu_baseline:.2f})  {verdict}"
        )
    for target in floors:
        print(f"      ({target.label}: {target.code.replace(chr(10), '; ')})")
    ratios = {label: ratios[label] for label in ranked}
    worst = max(ratios, key=ratios.get)
    over = [label for label, ratio in ratios.items() if ratio > GOAL]
    print(
        f"  worst: {worst} at {ratios[worst]:.2f}x a bare import {BASELINE} (goal <= {GOAL}); "
        f"{len(over)}/{len(handlers)} handlers over the goal",
        flush=True,
    )
    print(
        f"  where the {WORST_SHOWN} worst and the lightest spend it "
        "(python -X importtime, one run each):"
    )
    for label in [*ranked[:WORST_SHOWN], ranked[-1]]:
        explain(label, envs[functions[label]])
    worst_env = envs[functions[worst]]
    cold_worst = no_bytecode_import(worst, worst_env)
    cold_boto3 = no_bytecode_import(BASELINE, worst_env)
    print(
        f"  with no bytecode cache at all (one run each): {worst} {cold_worst * 1000:.0f} ms, "
        f"bare {BASELINE} {cold_boto3 * 1000:.0f} ms; a layer from `sam build` ships no .pyc "
        "and /opt is read-only on Lambda, so its modules compile on every cold start"
    )
    passed = not over
    print(
        f"  verdict: {'PASS' if passed else 'FAIL'}: worst handler {ratios[worst]:.2f}x "
        f"a bare import {BASELINE} (goal <= {GOAL})"
    )
    return passed

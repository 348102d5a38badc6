"""The layer's packages: shared/requirements.txt is the list people edit,
shared/requirements.lock what the build installs (pinned, with hashes: `make lock`), and
pydantic is in neither (development only: `make openapi`)."""

from __future__ import annotations

import re
import subprocess
import sys

from bench.cold_start import lambda_environment
from local import template

SHARED = template.ROOT / "shared"
# pydantic and the packages only it brings.
DEVELOPMENT_ONLY = {"pydantic", "pydantic-core", "annotated-types", "typing-inspection"}


def _pins(text: str) -> dict[str, str]:
    """name -> version of each `name==version` line (names normalised as pip does)."""
    pins = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9._-]+)==([^\s;\\]+)", line)
        if match:
            pins[re.sub(r"[-_.]+", "-", match[1]).lower()] = match[2]
    return pins


def test_the_lock_pins_the_list_with_hashes():
    listed = _pins((SHARED / "requirements.txt").read_text())
    lock = (SHARED / "requirements.lock").read_text()
    locked = _pins(lock)
    assert {name: locked.get(name) for name in listed} == listed, "run `make lock`"
    entries = re.split(r"\n(?=[A-Za-z0-9])", lock.split("\n", 2)[2].strip())
    assert len(entries) == len(locked)
    for entry in entries:
        assert "--hash=sha256:" in entry, f"no hash: {entry.splitlines()[0]}"
    # boto3 and botocore ship in the layer, pinned as in the tests (docs/decisions.md).
    assert locked["botocore"] == locked["boto3"]


def test_pydantic_is_not_in_the_layer():
    for name in ("requirements.txt", "requirements.lock"):
        assert not DEVELOPMENT_ONLY & set(_pins((SHARED / name).read_text())), name


BLOCKED = """
import importlib, sys
from importlib.abc import MetaPathFinder

class NoPydantic(MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {blocked!r}:
            raise ModuleNotFoundError(f"no module named {{name!r}} in the layer", name=name)
        return None

sys.meta_path.insert(0, NoPydantic())
for module in {modules!r}:
    importlib.import_module(module)
print(len({modules!r}))
"""


def test_every_function_loads_without_pydantic():
    modules = sorted(
        {template.module_of(f) for f in template.resources("AWS::Serverless::Function").values()}
    )
    blocked = {"pydantic", "pydantic_core", "annotated_types", "typing_inspection"}
    run = subprocess.run(  # noqa: S603 - our own interpreter, a fixed snippet
        [sys.executable, "-c", BLOCKED.format(blocked=blocked, modules=modules)],
        env=lambda_environment("AuthLoginFunction"),
        cwd=template.ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.split() == [str(len(modules))]

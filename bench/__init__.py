"""Benchmarks: `make bench` (= `python -m bench`) runs every module in bench.__main__.BENCHMARKS.

The domain package lives in shared/ (the Lambda layer); tests get it from pytest's
pythonpath, a plain `python -m bench` gets it from here.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for _path in (ROOT, ROOT / "shared"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

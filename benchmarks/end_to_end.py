"""The original app vs the humanorai engine, all five members, side by side in one run (DESIGN §7).

The same as ``humanorai bench`` (see :mod:`humanorai.bench` and ``humanorai bench --help``), kept here
beside the other benchmark scripts. Usage: python -m benchmarks.end_to_end [--bundle DIR] [--texts 10] …
"""

from __future__ import annotations

import sys

from humanorai.cli import app

if __name__ == "__main__":
    app(["bench", *sys.argv[1:]])

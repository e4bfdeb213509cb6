"""Child entry point: ``python -m benchmarks.child CASE PARAMS_JSON RESULT_PATH``.

Runs one case function from benchmarks.cases and writes {seconds, maxrss, extra} as JSON.
"""

from __future__ import annotations

import json
import resource
import sys


def main() -> int:
    case, params, out = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
    from benchmarks.cases import CASES

    result = CASES[case](params)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    with open(out, "w") as fh:
        json.dump({"seconds": result.pop("seconds", 0.0), "maxrss": maxrss, "extra": result}, fh)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

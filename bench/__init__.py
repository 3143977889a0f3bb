"""Benchmarks: visitdesk measured side by side with the stack's own limits (`make bench`).

BENCH_SOURCE=<tree> measures another copy of the code (a scratch tree with a proposed patch applied): the
service processes run from it, and so do the migrations and the listing/queue code this process calls.
"""

import os
import sys

if os.environ.get("BENCH_SOURCE"):
    sys.path.insert(0, os.path.realpath(os.environ["BENCH_SOURCE"]))

"""The benchmark harness: ``python -m benchmarks.run --mode quick|full`` (see ``benchmarks/run.py``).

Every section module exposes ``run(quick: bool, redis_url: str) -> dict`` in the shape that
:mod:`benchmarks.report` defines, so the harness can run them side by side on one server and write one report.
Nothing heavy is imported here: ``benchmarks.timing`` must stay importable from the legacy LlamaIndex venv.
"""

import os as _os

# Benchmarks are our own programs: the same OpenMP policy as `redis-rag` and the demo
# (see redis_rag_integrations/host.py), set before any benchmark imports torch.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

"""What this package's own programs (``redis-rag``, the demo) change in their process, and a library never does.

Importing the package or starting the embedded Redis leaves the host alone: no environment variable, no signal
handler. Our command-line entry points opt in, before any model loads:

* ``OMP_WAIT_POLICY=PASSIVE`` unless set: OpenMP threads that busy-wait between batches steal the CPU from everything
  else on a small machine. On 2 busy cores one query embedding took 80-100 ms p50 with the default policy and 25-30 ms
  with PASSIVE, with no loss of batch throughput. Applications that embed on small machines may set it themselves
  (before torch is imported).
* SIGTERM turned into a normal exit, so ``atexit`` stops the embedded Redis cleanly (its AOF flushed). Without it the
  kernel still stops the server when the process dies (``PR_SET_PDEATHSIG``, see :mod:`._children`).
"""

from __future__ import annotations

import os

from ._children import install_sigterm_handler


def configure_entry_point() -> None:
    """Apply the two process-wide settings above; call first thing in a program's ``main``."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    install_sigterm_handler()

"""Loading the local model: once per process, silent unless asked, and without touching the host's settings.

Every program that embeds loads all-MiniLM-L6-v2 once; a progress bar on stderr each time is noise in every script,
CLI command and notebook. The silencing is scoped to our own load call: the host's transformers progress-bar switch
and tqdm hook are the same after the load as before, and a load elsewhere in the process still shows its bar.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def _run(code: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], env=env, capture_output=True, text=True, timeout=300
    )


def test_the_model_loads_once_and_silently_and_the_host_settings_stay() -> None:
    done = _run(
        """
        import threading
        from transformers.utils import logging as tl
        hook = lambda factory, args, kwargs: factory(*args, **kwargs)
        tl.set_tqdm_hook(hook)
        from redis_rag_integrations.embeddings import LocalEmbedder, default_embedder
        models = []
        threads = [threading.Thread(target=lambda: models.append(LocalEmbedder().model)) for _ in range(3)]
        for t in threads: t.start()
        for t in threads: t.join()
        models.append(default_embedder().documents.model)
        assert len({id(m) for m in models}) == 1, "loaded more than once"
        assert default_embedder().embed(["hi"]).shape == (1, 384)
        assert tl.is_progress_bar_enabled() and tl._tqdm_hook is hook, "host settings changed"
        print("ok")
        """
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
    assert done.stderr.strip() == "", done.stderr


def test_progress_on_request() -> None:
    done = _run(
        """
        from redis_rag_integrations.embeddings import LocalEmbedder
        LocalEmbedder(progress=True).embed(["hi"])
        """
    )
    assert done.returncode == 0, done.stderr
    assert "Loading weights" in done.stderr

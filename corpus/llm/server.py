"""The project's model as a server: llama-cpp-python's own OpenAI-compatible server (``python -m
llama_cpp.server``, the ``server`` extra of llama-cpp-python, in the llm extra) on the verified GGUF, so
that many ingest workers, on this machine or others, share one loaded model.

    with ModelServer(port=8080) as srv:        # or: theorycov model-server --port 8080
        backend = OpenAIBackend(OpenAIConfig(srv.url))

The server is started with the model alias ``theorycov:<sha256 of the GGUF>``: a client
(:class:`~theorycov.corpus.llm.http.OpenAIBackend`) reads it from ``/v1/models`` and then knows the weights
(its answer-cache keys are the in-process backend's) and their chat template (bundled for the pinned model:
``prompts/qwen2.5_chat_template.jinja``, the GGUF's ``tokenizer.chat_template``), which scored decoding needs.

Exceptions: :class:`~theorycov.corpus.llm.backends.BackendError` (the server extra is missing, the port is
taken, the process exits or does not answer in time).
"""
from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from theorycov.corpus.llm.backends import BackendError

log = logging.getLogger(__name__)

ALIAS_PREFIX = "theorycov:"
TEMPLATES = Path(__file__).resolve().parent / "prompts"
# the pinned model's chat template and its end/begin tokens, as llama.cpp renders them (llamacpp.py's formatter)
PINNED_TEMPLATE = "qwen2.5_chat_template.jinja"
PINNED_EOS, PINNED_BOS = "<|im_end|>", "<|endoftext|>"

__all__ = ["ALIAS_PREFIX", "ModelServer", "ServerConfig", "bundled_template", "free_port", "render_chat"]


def bundled_template(sha256: str) -> str | None:
    """The chat template shipped for a model file's SHA-256 (the pinned model's only), or None."""
    from theorycov.corpus.llm.weights import MODEL_SHA256

    return (TEMPLATES / PINNED_TEMPLATE).read_text(encoding="utf-8") if sha256 == MODEL_SHA256 else None


def render_chat(template: str, messages: list[dict], *, eos: str = PINNED_EOS, bos: str = PINNED_BOS) -> str:
    """``messages`` rendered with a Jinja chat template and the generation prompt, as llama-cpp-python's
    Jinja2ChatFormatter renders them (same environment), without importing llama_cpp."""
    import json

    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(loader=jinja2.BaseLoader(), trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = lambda x, ensure_ascii=False, indent=None, separators=None, sort_keys=False: json.dumps(  # noqa: E731
        x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

    def _raise(message: str) -> None:
        raise jinja2.exceptions.TemplateError(message)

    return env.from_string(template).render(messages=messages, eos_token=eos, bos_token=bos, add_generation_prompt=True,
                                            raise_exception=_raise, strftime_now=lambda f: time.strftime(f))


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody listens on now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class ServerConfig:
    """How the llama.cpp server runs."""

    host: str = "127.0.0.1"  # 0.0.0.0 to serve other machines (no authentication: a trusted network only)
    port: int = 8080
    model_path: str | None = None  # None: the pinned GGUF (assembled and verified by weights.default_model_path)
    n_ctx: int = 2048  # as the in-process backend (LlamaCppConfig.n_ctx)
    n_threads: int | None = None  # None: free_threads() at start
    start_timeout_s: float = 180.0  # loading the model on a busy 2-core machine takes 5-30 s
    log_path: str | None = None  # the server's stdout/stderr; None: discarded


class ModelServer:
    """A running ``python -m llama_cpp.server``; a context manager that stops it on exit."""

    def __init__(self, config: ServerConfig = ServerConfig(), **overrides: Any) -> None:
        from dataclasses import replace

        self.config = replace(config, **overrides) if overrides else config
        self.proc: subprocess.Popen[bytes] | None = None
        self.sha256 = ""

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.config.host in ("0.0.0.0", "::") else self.config.host
        return f"http://{host}:{self.config.port}"

    def command(self) -> list[str]:
        """The server's command line (the model is assembled and verified first)."""
        from theorycov.corpus.llm import weights
        from theorycov.corpus.threads import free_threads

        cfg = self.config
        if cfg.model_path is None:
            path, self.sha256 = weights.default_model_path(), weights.MODEL_SHA256
        else:
            path = Path(cfg.model_path)
            weights.verify_model_file(path, None, architecture="")
            self.sha256 = weights.sha256_file(path)
        threads = cfg.n_threads or free_threads()
        return [sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--model_alias", ALIAS_PREFIX + self.sha256,
                "--host", cfg.host, "--port", str(cfg.port), "--n_ctx", str(cfg.n_ctx), "--n_threads", str(threads),
                "--n_threads_batch", str(threads), "--logits_all", "true", "--verbose", "false"]

    def start(self) -> ModelServer:
        """Start the server and wait until it answers ``/v1/models``."""
        import importlib.util

        if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llama_cpp.server") is None \
                or importlib.util.find_spec("sse_starlette") is None or importlib.util.find_spec("starlette_context") is None:
            raise BackendError("the model server needs llama-cpp-python's server extra: pip install 'theorycov[llm]' "
                               "(it pins llama-cpp-python[server]), or `make setup`")
        cfg = self.config
        try:
            with socket.create_server((cfg.host, cfg.port)):
                pass
        except OSError as exc:
            raise BackendError(f"cannot listen on {cfg.host}:{cfg.port}: {exc.strerror or exc}; choose another --port") from exc
        cmd = self.command()
        out = open(cfg.log_path, "ab") if cfg.log_path else subprocess.DEVNULL  # noqa: SIM115 (kept open with the process)
        env = {**os.environ, "HF_HUB_OFFLINE": "1"}
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env)
        log.info("model server pid %d: %s", self.proc.pid, " ".join(cmd))
        self._wait_ready()
        return self

    def _wait_ready(self) -> None:
        import httpx

        assert self.proc is not None
        deadline = time.monotonic() + self.config.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BackendError(f"the model server exited with code {self.proc.returncode} while starting"
                                   + (f"; see {self.config.log_path}" if self.config.log_path else "; pass log_path to see why"))
            try:
                if httpx.get(self.url + "/v1/models", timeout=2.0).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.3)
        self.stop()
        raise BackendError(f"the model server did not answer within {self.config.start_timeout_s:.0f} s")

    def stop(self) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after 10 s)."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def wait(self) -> int:
        """Block until the server exits (the CLI's foreground mode); returns its exit code."""
        assert self.proc is not None
        return self.proc.wait()

    def __enter__(self) -> ModelServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

"""Backends and model files without the model: thread choice, model assembly and verification, the
GGUF header reader, and the OpenAI-compatible HTTP backend against a local stub server."""
from __future__ import annotations

import json
import os
import struct
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from theorycov.corpus.llm import backends, weights
from theorycov.corpus.llm.prompts import MalformedOutputError, verify_schema


def test_free_threads_follows_load_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("THEORYCOV_LLM_THREADS", raising=False)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setattr(os, "getloadavg", lambda: (0.1, 0.0, 0.0))
    assert backends.free_threads() == 4
    monkeypatch.setattr(os, "getloadavg", lambda: (2.8, 0.0, 0.0))
    assert backends.free_threads() == 1
    monkeypatch.setattr(os, "getloadavg", lambda: (9.0, 0.0, 0.0))
    assert backends.free_threads() == 1  # never zero
    monkeypatch.setenv("THEORYCOV_LLM_THREADS", "3")
    assert backends.free_threads() == 3


def _gguf(path: Path, arch: str = "qwen2") -> Path:
    """A minimal GGUF v3 header: two string pairs and one u32 array (skipped by the reader)."""
    def s(x: str) -> bytes:
        return struct.pack("<Q", len(x)) + x.encode()

    kv = s("general.architecture") + struct.pack("<I", 8) + s(arch)
    kv += s("general.name") + struct.pack("<I", 8) + s("tiny")
    kv += s("tokenizer.ids") + struct.pack("<I", 9) + struct.pack("<IQ", 4, 3) + struct.pack("<3I", 1, 2, 3)
    kv += s(f"{arch}.context_length") + struct.pack("<I", 4) + struct.pack("<I", 4096)
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 7, 4) + kv + b"\0" * 64)
    return path


def test_gguf_header_is_read_and_bad_files_refused(tmp_path: Path) -> None:
    info = weights.read_gguf_header(_gguf(tmp_path / "m.gguf"))
    assert (info.version, info.n_tensors, info.architecture, info.name, info.context_length) == (3, 7, "qwen2", "tiny", 4096)
    (tmp_path / "bad.gguf").write_bytes(b"GGML" + b"\0" * 100)
    with pytest.raises(weights.GGUFFormatError, match="bad magic"):
        weights.read_gguf_header(tmp_path / "bad.gguf")
    with pytest.raises(weights.GGUFFormatError, match="architecture"):
        weights.verify_model_file(_gguf(tmp_path / "llama.gguf", arch="llama"), None)


def test_assembly_checks_the_hash_and_leaves_nothing_on_mismatch(tmp_path: Path) -> None:
    parts = []
    for i, chunk in enumerate([b"GGUF", b"rest-of-file"]):
        (tmp_path / f"p{i}").write_bytes(chunk)
        parts.append(tmp_path / f"p{i}")
    target = tmp_path / "out" / "model.gguf"
    with pytest.raises(weights.ModelChecksumError, match="expected"):
        weights.assemble(target, parts, "0" * 64)
    assert not target.exists() and list(target.parent.iterdir()) == []
    import hashlib

    good = hashlib.sha256(b"GGUFrest-of-file").hexdigest()
    assert weights.assemble(target, parts, good).read_bytes() == b"GGUFrest-of-file"


def test_a_changed_model_file_is_refused_despite_its_stamp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib

    path = _gguf(tmp_path / "m.gguf")
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    weights.verify_model_file(path, sha)  # full hash, writes the stamp
    assert (tmp_path / "m.gguf.verified").is_file()
    weights.verify_model_file(path, sha)  # stamp matches: no rehash needed
    path.write_bytes(path.read_bytes() + b"x")
    with pytest.raises(weights.ModelChecksumError):
        weights.verify_model_file(path, sha)


def test_missing_parts_name_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(weights, "PART_PACKAGES", ("theorycov_no_such_part_1",))
    with pytest.raises(weights.ModelNotInstalled, match="llm extra"):
        weights.part_paths()
    assert weights.parts_installed() is False


# -- OpenAI-compatible HTTP backend: a stub server is a test double for the transport only; it checks
#    the request we send and plays back canned bodies. It says nothing about any real server's output.

class _Stub(BaseHTTPRequestHandler):
    replies: list[tuple[int, str]] = []
    requests: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        _Stub.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
        status, text = _Stub.replies.pop(0)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(text.encode())

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def stub_server():  # noqa: ANN201
    server = HTTPServer(("127.0.0.1", 0), _Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Stub.replies, _Stub.requests = [], []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def _chat(content: str, logprobs: list | None = None) -> str:
    choice: dict = {"index": 0, "message": {"role": "assistant", "content": content}}
    if logprobs is not None:
        choice["logprobs"] = {"content": logprobs}
    return json.dumps({"choices": [choice], "usage": {"prompt_tokens": 50, "completion_tokens": 5}})


def test_http_backend_speaks_the_openai_protocol(stub_server: str) -> None:
    from theorycov.corpus.llm.http import OpenAIBackend, OpenAIConfig

    lp = [{"token": '{"answer": "', "logprob": 0.0}, {"token": "yes", "logprob": -0.105}, {"token": '"}', "logprob": 0.0}]
    _Stub.replies = [(200, _chat('{"answer": "yes"}', lp)), (200, "not json"), (500, "overloaded")]
    backend = OpenAIBackend(OpenAIConfig(base_url=stub_server, model="qwen", api_key="k"))
    c = backend.complete([{"role": "user", "content": "q"}], verify_schema(), max_tokens=16)
    assert c.text == '{"answer": "yes"}' and c.prompt_tokens == 50
    assert backends.label_confidence(c, "answer") == pytest.approx(0.9003, abs=1e-3)
    req = _Stub.requests[0]
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer k"
    assert req["body"]["response_format"]["json_schema"]["schema"] == verify_schema()
    assert req["body"]["temperature"] == 0.0 and req["body"]["logprobs"] is True
    for _ in range(2):  # a garbled body and a server error: one sentence fails, the run goes on
        with pytest.raises(MalformedOutputError):
            backend.complete([{"role": "user", "content": "q"}], verify_schema(), max_tokens=16)
    assert backend.model_id.startswith("http:")


def test_http_backend_down_is_a_backend_error() -> None:
    from theorycov.corpus.llm.http import OpenAIBackend, OpenAIConfig

    backend = OpenAIBackend(OpenAIConfig(base_url="http://127.0.0.1:9", timeout_s=2))
    with pytest.raises(backends.BackendError, match="cannot reach"):
        backend.complete([{"role": "user", "content": "q"}], verify_schema(), max_tokens=16)


@pytest.fixture(scope="module")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialized 1-layer GPT-2 with a byte-level BPE trained here: a user's model
    directory in shape only (its answers are noise, which is the point: the schema must still hold)."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    torch.manual_seed(0)
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    corpus = ['{"answer": "yes"}', '{"claim": "Raf activates Mek", "direct": true}', "PKA inhibits Raf"] * 20
    tok.train_from_iterator(corpus, trainers.BpeTrainer(vocab_size=300, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    path = tmp_path_factory.mktemp("tiny-model")
    PreTrainedTokenizerFast(tokenizer_object=tok).save_pretrained(path)
    cfg = GPT2Config(vocab_size=tok.get_vocab_size(), n_positions=4096, n_embd=16, n_layer=1, n_head=2,
                     bos_token_id=0, eos_token_id=0)
    GPT2LMHeadModel(cfg).save_pretrained(path)
    return path


def test_transformers_backend_output_always_follows_the_schema(tiny_model_dir: Path) -> None:
    from theorycov.corpus.llm.hf import TransformersBackend
    from theorycov.corpus.llm.prompts import pair_schema, parse_pair_answer, parse_verify_answer, verify_messages

    backend = TransformersBackend(tiny_model_dir, max_threads=1)
    messages = verify_messages("Raf is inhibited by PKA.", "PKA inhibits Raf", {"PKA": ["PKA"], "Raf": ["Raf"]})
    c = backend.complete(messages, verify_schema(), max_tokens=16)
    parse_verify_answer(c.text)  # a random model, yet the answer parses
    conf = backends.label_confidence(c, "answer")
    assert conf is not None and 0.0 < conf <= 1.0
    parse_pair_answer(backend.complete(messages, pair_schema("PKA", "Raf"), max_tokens=48).text, "PKA", "Raf")
    assert backend.model_id.startswith("dir:") and backend.model_id == TransformersBackend(tiny_model_dir).model_id
    with pytest.raises(MalformedOutputError):
        backend.complete(messages, {"type": "object", "properties": {"x": {"type": "array"}}}, max_tokens=8)


def test_the_model_server_refuses_a_taken_port_before_loading_anything() -> None:
    import socket

    pytest.importorskip("llama_cpp.server", reason="the llm extra (llama-cpp-python[server]) is not installed")
    from theorycov.corpus.llm.server import ModelServer

    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        with pytest.raises(backends.BackendError, match=f"cannot listen on 127.0.0.1:{port}.*another --port"):
            ModelServer(port=port).start()


def test_the_model_server_command_says_the_port_is_taken() -> None:
    import socket

    pytest.importorskip("llama_cpp.server", reason="the llm extra (llama-cpp-python[server]) is not installed")
    from typer.testing import CliRunner

    from theorycov.cli import app

    with socket.create_server(("127.0.0.1", 0)) as taken:
        r = CliRunner().invoke(app, ["model-server", "--port", str(taken.getsockname()[1])])
    assert r.exit_code == 2 and "cannot listen" in r.output

"""A user's own model directory through transformers, with schema-constrained decoding by enumeration.

transformers has no JSON-schema grammar, but the pair answer is a flat object of enums and booleans:
its JSON is written field by field, and for each field every allowed value is scored by the model
(sum of token log-probabilities given the text so far) and the best one is taken. The output thus
always follows the schema, and each chosen value comes with its log-probability (the confidence).
Free extraction (arrays) is not supported by this backend: it raises MalformedOutputError.
Nothing is fetched from a model hub (``local_files_only=True``).
"""
from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path
from typing import Any

from theorycov.corpus.llm.backends import BackendError, Completion
from theorycov.corpus.llm.prompts import MalformedOutputError

log = logging.getLogger(__name__)


def fingerprint_dir(path: Path, small: int = 1 << 24) -> str:
    """Identity of a model directory: names and sizes of all files, contents of those under 16 MiB,
    and the first and last MiB of larger ones (hashing several GB of weights at every start is not
    worth it; a changed weight file changes its size or its ends in practice)."""
    digest = hashlib.sha256()
    for f in sorted(p for p in path.rglob("*") if p.is_file()):
        size = f.stat().st_size
        digest.update(f"{f.relative_to(path)}|{size}".encode())
        with open(f, "rb") as fh:
            if size <= small:
                digest.update(fh.read())
            else:
                digest.update(fh.read(1 << 20))
                fh.seek(-(1 << 20), 2)
                digest.update(fh.read())
    return "dir:" + digest.hexdigest()


def _options(prop: dict[str, Any]) -> list[str]:
    if "enum" in prop:
        return [json.dumps(v) for v in prop["enum"]]
    if prop.get("type") == "boolean":
        return ["true", "false"]
    raise MalformedOutputError(f"the transformers backend decodes only enum and boolean fields, not {prop}")


class TransformersBackend:
    """A causal language model from a local directory (config.json, tokenizer, weights)."""

    def __init__(self, model_dir: Path | str, *, device: str = "cpu", max_threads: int | None = None) -> None:
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise BackendError("the transformers backend needs torch and transformers installed") from exc
        from theorycov.corpus.threads import free_threads

        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").is_file():
            raise BackendError(f"{self.model_dir} is not a transformers model directory (no config.json)")
        torch.set_num_threads(free_threads(max_threads))
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_dir, local_files_only=True)
            self.model = AutoModelForCausalLM.from_pretrained(self.model_dir, local_files_only=True).to(device).eval()
        except (OSError, ValueError) as exc:
            raise BackendError(f"transformers could not load {self.model_dir}: {exc}") from exc
        self.device = device
        self.model_id = fingerprint_dir(self.model_dir)

    def _prompt(self, messages: list[dict]) -> str:
        if getattr(self.tokenizer, "chat_template", None):
            return str(self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True))
        return "\n\n".join(f"{m['role']}: {m['content']}" for m in messages) + "\n\nassistant: "

    def _score(self, prefix_ids: list[int], options: list[list[int]]) -> list[float]:
        """Sum of log-probabilities of each option's tokens after the prefix, one padded batch."""
        import torch

        seqs = [prefix_ids + o for o in options]
        width = max(len(s) for s in seqs)
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        ids = torch.tensor([s + [pad] * (width - len(s)) for s in seqs], device=self.device)
        mask = torch.tensor([[1] * len(s) + [0] * (width - len(s)) for s in seqs], device=self.device)
        with torch.no_grad():
            logp = torch.log_softmax(self.model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)  # (n, T, V)
        scores = []
        for row, opt in enumerate(options):
            start = len(prefix_ids)
            scores.append(float(sum(logp[row, start + k - 1, tok] for k, tok in enumerate(opt))))
        return scores

    def complete(self, messages: list[dict], schema: dict[str, Any], *, max_tokens: int,
                 skip_if: tuple[str, str] | None = None) -> Completion:
        props = schema.get("properties", {})
        if schema.get("type") != "object" or not props:
            raise MalformedOutputError("the transformers backend decodes flat objects only")
        prompt = self._prompt(messages)
        text, pieces = "{", [("{", 0.0)]
        for i, (name, prop) in enumerate(props.items()):
            literal = ("" if i == 0 else ", ") + json.dumps(name) + ": "
            text += literal
            pieces.append((literal, 0.0))
            opts = _options(prop)
            prefix = self.tokenizer(prompt + text, add_special_tokens=False)["input_ids"]
            opt_ids = [self.tokenizer(o, add_special_tokens=False)["input_ids"] for o in opts]
            scores = self._score(prefix, opt_ids)
            best = max(range(len(opts)), key=lambda k: scores[k])
            text += opts[best]
            pieces.append((opts[best], scores[best]))
        text += "}"
        pieces.append(("}", 0.0))
        return Completion(text=text, token_logprobs=tuple(pieces), completion_tokens=len(pieces))


__all__ = ["TransformersBackend", "fingerprint_dir"]

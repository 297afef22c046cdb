"""Checkpoints of a training run: everything needed to continue it bit for bit.

Networks, log Z, optimizer, schedule, the run's torch.Generator, the replay buffer and the environments'
current graphs are saved together, so an interrupted and resumed run reproduces the uninterrupted loss
trajectory exactly (tests/gfn/test_gfn_training.py). Tensors are loaded onto the saved config's device.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from theorycov.gfn.config import TrainerConfig
from theorycov.gfn.env import GraphState
from theorycov.gfn.errors import CheckpointError

if TYPE_CHECKING:
    from theorycov.gfn.reward import Reward
    from theorycov.gfn.trainer import ExtraTransitions, Trainer

__all__ = ["save_checkpoint", "load_checkpoint"]

VERSION = 1


def save_checkpoint(trainer: Trainer, path: str | Path) -> None:
    """Write ``trainer``'s whole state to ``path`` (torch.save)."""
    s = trainer.state
    torch.save({
        "version": VERSION,
        "config": trainer.config.to_dict(),
        "policy": trainer.policy.state_dict(),
        "target": None if trainer.target is None else trainer.target.state_dict(),
        "average": None if trainer.average is None else trainer.average.state_dict(),
        "log_z": trainer.log_z.detach().clone(),
        "optimizer": trainer.optimizer.state_dict(),
        "scheduler": trainer.scheduler.state_dict(),
        "generator": trainer.generator.get_state(),
        "buffer": trainer.buffer.state_dict(),
        "state": {"adj": s.adj, "closure": s.closure, "features": s.features, "done": s.done},
        "iteration": trainer.iteration,
        "losses": list(trainer.losses),
        "metrics": list(trainer.metrics),
        "train_seconds": trainer.train_seconds,
        "allowed": None if trainer.env.allowed is None else trainer.env.allowed.cpu(),
    }, Path(path))


def load_checkpoint(
    cls: type[Trainer],
    path: str | Path,
    reward: Reward,
    extra_transitions: ExtraTransitions | None = None,
    run_dir: str | Path | None = None,
    config: TrainerConfig | None = None,
) -> Trainer:
    """A ``cls`` trainer resumed from ``path``; a given ``config`` must equal the saved one."""
    ck = torch.load(Path(path), weights_only=True, map_location="cpu")  # tensors and plain containers only: a crafted file cannot run code
    if ck.get("version") != VERSION:
        raise CheckpointError(f"unknown checkpoint version {ck.get('version')!r} in {path}")
    saved = TrainerConfig.from_dict(ck["config"])
    if config is not None and config != saved:
        raise CheckpointError("the checkpoint was written with a different TrainerConfig")
    allowed = ck.get("allowed")  # the environment's candidate edges (None: every edge)
    tr = cls(saved, reward, extra_transitions, run_dir, allowed=allowed)
    if tr.env.d != ck["state"]["adj"].shape[-1]:
        raise CheckpointError(f"checkpoint is over d = {ck['state']['adj'].shape[-1]} variables, reward over {tr.env.d}")
    tr.policy.load_state_dict(ck["policy"])
    if tr.target is not None:
        tr.target.load_state_dict(ck["target"])
    if tr.average is not None:
        tr.average.load_state_dict(ck["average"])
    with torch.no_grad():
        tr.log_z.copy_(ck["log_z"])
    tr.optimizer.load_state_dict(ck["optimizer"])
    tr.scheduler.load_state_dict(ck["scheduler"])
    tr.generator.set_state(ck["generator"])
    tr.buffer.load_state_dict(ck["buffer"])
    dev = tr.device
    st = {k: None if v is None else v.to(dev) for k, v in ck["state"].items()}
    if st["features"] is not None and st["features"].dim() == 3:  # written when features were (B, d, d)
        st["features"] = st["features"].flatten(1)[:, tr.env.feature_edges]
    tr.state = GraphState(**st)
    tr.iteration = ck["iteration"]
    tr.losses = ck["losses"]
    tr.metrics = ck["metrics"]
    tr.train_seconds = ck["train_seconds"]
    return tr

"""Random draws that honour both the caller's generator and the tensors' device.

A torch.Generator lives on one device and can only fill tensors there. Library calls take a caller-owned
generator (for reproducibility) that may be a CPU generator while the policy and the states live on a GPU
(e.g. the coverage audit's own generator): the draw then happens on the generator's device and the result
moves to the tensors' device, which costs a copy but keeps every stream reproducible.
"""
from __future__ import annotations

import torch

__all__ = ["rand", "randint"]


def _where(generator: torch.Generator | None, device: torch.device) -> torch.device:
    return device if generator is None else generator.device


def rand(shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device,
         dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Uniform [0, 1) draws of ``shape`` on ``device`` from ``generator`` (any device)."""
    return torch.rand(shape, generator=generator, device=_where(generator, device), dtype=dtype).to(device)


def randint(high: int, shape: tuple[int, ...], generator: torch.Generator | None, device: torch.device) -> torch.Tensor:
    """Integers in [0, high) of ``shape`` (int64) on ``device`` from ``generator`` (any device)."""
    return torch.randint(high, shape, generator=generator, device=_where(generator, device)).to(device)

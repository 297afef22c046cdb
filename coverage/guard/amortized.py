"""The amortized marginalizer S(x) of Bengio's talk: a small network mapping a query (action, harm) to
the posterior risk E_{G ~ P(G|D)} P(H | do(a), G, D), trained on Monte Carlo answers of the guard.

A query is encoded as [one-hot target (d), set/shift flag, value or shift (clipped), one-hot outcome (d),
low and high bounds (clipped, with "unbounded" flags), outside flag] -> 2d + 6 features. The network is a
two-layer MLP with a sigmoid output trained with binary cross-entropy on the soft labels. Once trained,
an answer costs one small forward pass (microseconds) instead of a pass over thousands of graphs; its
error against the Monte Carlo answer on held-out queries is measured and reported, never assumed.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from torch import nn

from theorycov.coverage.guard.actions import Action, HarmEvent
from theorycov.coverage.guard.guard import Guard

__all__ = ["AmortizedConfig", "AmortizedRisk", "random_queries"]

_CLIP = 6.0  # standardized units beyond which bounds and values are treated as the clip value


@dataclass(frozen=True)
class AmortizedConfig:
    hidden: int = 128  # width of the two hidden layers
    steps: int = 3000  # Adam steps
    lr: float = 3e-3
    batch: int = 256
    seed: int = 0


def random_queries(guard: Guard, n: int, seed: int = 0) -> list[tuple[Action, HarmEvent]]:
    """n random (action, harm) queries over the guard's variables: set to a random observational
    quantile or shift by up to 2 standard units; harms below/above a quantile or outside an interval."""
    g = torch.Generator().manual_seed(seed)
    d, names = len(guard.variables), guard.variables
    out = []
    for _ in range(n):
        t, y = torch.randperm(d, generator=g)[:2].tolist()
        u = torch.rand(4, generator=g).tolist()
        if u[0] < 0.7:
            act = Action(names[t], quantile=0.01 + 0.98 * u[1])
        else:
            act = Action(names[t], shift=(u[1] - 0.5) * 4.0)
        kind = int(u[2] * 3)
        q = 0.02 + 0.3 * u[3]
        if kind == 0:
            harm = HarmEvent(names[y], high_q=q)
        elif kind == 1:
            harm = HarmEvent(names[y], low_q=1 - q)
        else:
            harm = HarmEvent(names[y], low_q=q / 2, high_q=1 - q / 2, outside=True)
        out.append((act, harm))
    return out


class AmortizedRisk(nn.Module):
    """S(x): query features -> posterior risk in (0, 1)."""

    def __init__(self, guard: Guard, config: AmortizedConfig = AmortizedConfig()) -> None:
        super().__init__()
        self.variables = list(guard.variables)
        self.quantiles = guard.quantiles
        self.config = config
        d = len(self.variables)
        with torch.random.fork_rng():
            torch.manual_seed(config.seed)
            self.net = nn.Sequential(nn.Linear(2 * d + 6, config.hidden), nn.SiLU(), nn.Linear(config.hidden, config.hidden), nn.SiLU(), nn.Linear(config.hidden, 1))

    def encode(self, queries: list[tuple[Action, HarmEvent]]) -> torch.Tensor:
        """(n, 2d + 6) float32 features."""
        d = len(self.variables)
        x = torch.zeros(len(queries), 2 * d + 6)
        for k, (a, h) in enumerate(queries):
            x[k, self.variables.index(a.variable)] = 1.0
            value = a.resolved_value(self.quantiles)
            x[k, d] = 1.0 if a.shift is not None else 0.0
            x[k, d + 1] = max(-_CLIP, min(_CLIP, a.shift if a.shift is not None else float(value)))
            x[k, d + 2 + self.variables.index(h.variable)] = 1.0
            lo, hi = h.interval(self.quantiles)
            x[k, 2 * d + 2] = max(-_CLIP, min(_CLIP, lo)) if math.isfinite(lo) else -_CLIP
            x[k, 2 * d + 3] = max(-_CLIP, min(_CLIP, hi)) if math.isfinite(hi) else _CLIP
            x[k, 2 * d + 4] = float(not math.isfinite(lo)) - float(not math.isfinite(hi))
            x[k, 2 * d + 5] = float(h.outside)
        return x

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.net(x).squeeze(-1))

    def fit(self, guard: Guard, n_train: int = 3000, seed: int = 0) -> dict[str, float]:
        """Label ``n_train`` random queries with the guard's posterior risk and fit; returns timings."""
        t0 = time.perf_counter()
        queries = random_queries(guard, n_train, seed=seed)
        y = torch.tensor([guard.estimate(a, h)[1].posterior for a, h in queries], dtype=torch.float32)
        t_label = time.perf_counter() - t0
        x = self.encode(queries)
        opt = torch.optim.Adam(self.net.parameters(), lr=self.config.lr)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, self.config.steps)
        g = torch.Generator().manual_seed(self.config.seed)
        bce = nn.BCELoss()
        for _ in range(self.config.steps):
            idx = torch.randint(len(queries), (self.config.batch,), generator=g)
            loss = bce(self(x[idx]).clamp(1e-6, 1 - 1e-6), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        return {"label_s": t_label, "fit_s": time.perf_counter() - t0 - t_label, "n_train": float(n_train)}

    @torch.no_grad()
    def predict(self, action: Action, harm: HarmEvent) -> float:
        return float(self(self.encode([(action, harm)]))[0])

    @torch.no_grad()
    def evaluate(self, guard: Guard, n_test: int = 300, seed: int = 12345) -> dict[str, float]:
        """Mean and max absolute error against the guard's Monte Carlo answer on held-out queries, and
        the p50 latency of one amortized answer (ms) beside the p50 of one Monte Carlo answer."""
        queries = random_queries(guard, n_test, seed=seed)
        mc, am, t_mc, t_am = [], [], [], []
        for a, h in queries:
            t0 = time.perf_counter()
            mc.append(guard.estimate(a, h)[1].posterior)
            t1 = time.perf_counter()
            am.append(self.predict(a, h))
            t2 = time.perf_counter()
            t_mc.append(t1 - t0)
            t_am.append(t2 - t1)
        err = (torch.tensor(mc) - torch.tensor(am)).abs()
        return {
            "abs_err_mean": float(err.mean()),
            "abs_err_max": float(err.max()),
            "amortized_p50_ms": 1e3 * float(torch.tensor(t_am).median()),
            "mc_p50_ms": 1e3 * float(torch.tensor(t_mc).median()),
            "n_test": float(n_test),
        }

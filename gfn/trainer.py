"""Training loop: DAG-GFlowNet with the modified detailed balance (Deleu et al. 2022 §3), or TB.

One iteration (the unit of every it/s figure) = ``env_steps`` environment steps of ``num_envs``
graphs in parallel (each step adds <= num_envs transitions to the replay buffer, exploration
epsilon-uniform on a linear schedule, §3.4), plus the outside hook's transitions if any, plus one
gradient update on ``batch_size`` transitions drawn uniformly from the buffer. With ``loss="tb"``
an iteration is instead one batch of ``num_envs`` complete trajectories and one update on them
(Malkin et al. 2022).

All randomness after construction comes from one torch.Generator that is saved in checkpoints
together with the networks, optimizer, schedule, buffer and the environments' current graphs, so
an interrupted and resumed run reproduces the uninterrupted loss trajectory exactly.
"""
from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .env import DAGEnv, GraphState
from .errors import CheckpointError, ConfigError
from .losses import modified_db_loss, trajectory_balance_loss
from .policy import EdgePolicy, PolicyConfig
from .replay import ReplayBuffer, Transitions
from .reward import Reward
from .sampling import choose_actions

__all__ = ["TrainerConfig", "Trainer", "ExtraTransitions"]

logger = logging.getLogger(__name__)

#: hook for off-policy transitions from outside: (iteration, generator) -> Transitions or None
ExtraTransitions = Callable[[int, torch.Generator], "Transitions | None"]
#: hook for where finished environments restart: (number restarting, generator) -> (k <= n, d, d) bool DAGs or None
StartStates = Callable[[int, torch.Generator], "torch.Tensor | None"]


@dataclass(frozen=True)
class TrainerConfig:
    """Everything that determines a training run (saved as config.json in the run folder)."""

    seed: int = 0  # seeds the network initialization and the run's torch.Generator
    num_iterations: int = 10_000  # length of the run; also the horizon of the learning-rate schedule
    loss: str = "db"  # "db": modified detailed balance (§3.2); "tb": trajectory balance
    num_envs: int = 32  # graphs stepped in parallel
    env_steps: int = 1  # environment steps per iteration (db only)
    batch_size: int = 256  # replayed transitions per gradient update (db only)
    replay_capacity: int = 100_000  # transitions kept in the ring buffer
    prefill: int = 1_000  # transitions collected (by the untrained policy) before the first update
    lr: float = 1e-3  # peak Adam learning rate (fine at d <= 11; at d = 20 use 1e-4: 1e-3 drifts to dense low-reward graphs)
    lr_min: float = 1e-5  # final learning rate of the cosine schedule
    lr_schedule: str = "cosine"  # "cosine" (after warmup) or "constant"
    warmup_iters: int = 200  # linear warmup of the learning rate
    eps_start: float = 0.5  # exploration probability at iteration 0
    eps_end: float = 0.05  # exploration probability after eps_decay_iters
    eps_decay_iters: int = 2_000  # linear decay length of the exploration probability
    huber_delta: float = 1.0  # Huber threshold of the db loss
    log_z_lr: float = 0.1  # Adam learning rate of log Z (tb only); log Z starts at log R(empty graph)
    target_update_every: int = 0  # 0: no target network; k > 0: target for the stop term of G', synced every k its
    grad_clip: float = 10.0  # max gradient norm (0 disables)
    max_parents: int | None = None  # in-degree cap of the environment
    policy: PolicyConfig = field(default_factory=PolicyConfig)  # network shape
    log_every: int = 100  # iterations between metrics records and progress-bar updates
    checkpoint_every: int = 0  # iterations between checkpoints in run_dir (0: only on request)
    progress: bool = True  # show a tqdm progress bar

    def __post_init__(self) -> None:
        if self.loss not in ("db", "tb"):
            raise ConfigError(f"loss must be 'db' or 'tb', got {self.loss!r}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ConfigError(f"lr_schedule must be 'cosine' or 'constant', got {self.lr_schedule!r}")
        if not (0.0 <= self.eps_end <= 1.0 and 0.0 <= self.eps_start <= 1.0):
            raise ConfigError("exploration probabilities must lie in [0, 1]")
        if min(self.num_envs, self.batch_size, self.env_steps, self.replay_capacity) < 1:
            raise ConfigError("num_envs, batch_size, env_steps and replay_capacity must be >= 1")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> TrainerConfig:
        d = dict(d)
        d["policy"] = PolicyConfig(**d.get("policy", {}))  # type: ignore[arg-type]
        return cls(**d)  # type: ignore[arg-type]


class Trainer:
    """Trains an :class:`EdgePolicy` on a :class:`Reward`.

    extra_transitions: optional hook called once per iteration with (iteration, generator); the
    transitions it returns (validated) go into the replay buffer next to the sampler's own.
    start_states: optional hook asked, whenever environments finish, for graphs to restart some of them
    from instead of the empty graph (the sampler then continues on-policy from there; the same number of
    transitions per iteration, so it costs no reward evaluations beyond the sampler's own).
    run_dir: where config.json, metrics.jsonl and checkpoints go (None: nothing written).
    """

    def __init__(
        self,
        config: TrainerConfig,
        reward: Reward,
        extra_transitions: ExtraTransitions | None = None,
        run_dir: str | Path | None = None,
        start_states: StartStates | None = None,
    ) -> None:
        self.config = config
        self.reward = reward
        self.extra_transitions = extra_transitions
        self.start_states = start_states
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.env = DAGEnv(reward, max_parents=config.max_parents, use_features=config.policy.use_delta)
        with torch.random.fork_rng():  # initialization from the config seed, global RNG untouched
            torch.manual_seed(config.seed)
            self.policy = EdgePolicy(self.env, config.policy)
        # log Z starts at log R(empty graph), a lower bound of the right scale (BGe scores are O(n d))
        empty = torch.zeros(1, self.env.d, self.env.d, dtype=torch.bool)
        self.log_z = torch.nn.Parameter(reward.log_reward(empty).to(torch.float32).reshape(()))
        groups: list[dict[str, object]] = [{"params": list(self.policy.parameters()), "lr": config.lr}]
        if config.loss == "tb":
            groups.append({"params": [self.log_z], "lr": config.log_z_lr})
        self.optimizer = torch.optim.Adam(groups)  # type: ignore[arg-type]
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.target: EdgePolicy | None = copy.deepcopy(self.policy) if config.target_update_every > 0 else None
        if self.target is not None:
            self.target.requires_grad_(False)
        self.generator = torch.Generator().manual_seed(config.seed)
        self.buffer = ReplayBuffer(config.replay_capacity, self.env.d)
        self.state: GraphState = self.env.reset(config.num_envs)
        self.iteration = 0
        self.losses: list[float] = []  # loss of every iteration, in order
        self.metrics: list[dict[str, float]] = []  # records every log_every iterations
        self.train_seconds = 0.0  # wall time spent inside train()
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "config.json").write_text(json.dumps(config.to_dict(), indent=2))

    # ---- schedules ------------------------------------------------------------------------------
    def _lr_factor(self, it: int) -> float:
        c = self.config
        if it < c.warmup_iters:
            return (it + 1) / c.warmup_iters
        if c.lr_schedule == "constant":
            return 1.0
        frac = min(1.0, (it - c.warmup_iters) / max(1, c.num_iterations - c.warmup_iters))
        lo = c.lr_min / c.lr
        return lo + (1.0 - lo) * 0.5 * (1.0 + math.cos(math.pi * frac))

    def epsilon(self, it: int | None = None) -> float:
        """Exploration probability at an iteration (linear decay from eps_start to eps_end)."""
        c = self.config
        it = self.iteration if it is None else it
        frac = min(1.0, it / max(1, c.eps_decay_iters))
        return c.eps_start + (c.eps_end - c.eps_start) * frac

    # ---- data collection ------------------------------------------------------------------------
    @torch.no_grad()
    def collect(self, epsilon: float) -> int:
        """One environment step of all graphs; edge transitions go to the buffer. Returns how many."""
        env, state = self.env, self.state
        mask = env.action_mask(state)
        logp = self.policy.log_probs(state, mask)
        actions = choose_actions(logp, mask, epsilon, self.generator)
        nxt, delta = env.step(state, actions)
        is_edge = actions < env.d * env.d
        if bool(is_edge.any()):
            self.buffer.add(Transitions(state.adj[is_edge], actions[is_edge], delta[is_edge]))
        self.state = env.reset_where(nxt, nxt.done)  # stopped graphs restart from the empty graph ...
        if self.start_states is not None and bool(nxt.done.any()):  # ... or from graphs the hook chooses
            starts = self.start_states(int(nxt.done.sum()), self.generator)
            if starts is not None and starts.shape[0] > 0:
                rows = nxt.done.nonzero().flatten()[: starts.shape[0]]
                self.state = env.set_where(self.state, rows, starts[: rows.numel()])
        return int(is_edge.sum())

    def _prefill(self) -> None:
        while len(self.buffer) < min(self.config.prefill, self.config.replay_capacity):
            self.collect(1.0 if self.config.eps_start >= 1.0 else self.config.eps_start)

    # ---- losses ---------------------------------------------------------------------------------
    def db_loss(self, batch: Transitions) -> torch.Tensor:
        """Modified detailed balance loss of a batch of transitions (scalar, with grad)."""
        env = self.env
        nxt_adj = env.next_adjacency(batch.adj, batch.actions)
        M = batch.adj.shape[0]
        if self.target is None:  # one forward pass over G and G' together
            both = env.states(torch.cat([batch.adj, nxt_adj]))
            logp = self.policy.log_probs(both)
            logp_s, next_stop = logp[:M], logp[M:, -1]
        else:
            logp_s = self.policy.log_probs(env.states(batch.adj))
            with torch.no_grad():
                next_stop = self.target.log_probs(env.states(nxt_adj))[:, -1]
        n_next = nxt_adj.flatten(1).sum(1)
        return modified_db_loss(logp_s, next_stop, batch.actions, batch.delta_log_reward, n_next, self.config.huber_delta)

    def tb_loss(self, epsilon: float) -> torch.Tensor:
        """Trajectory balance on num_envs fresh trajectories (scalar, with grad)."""
        env = self.env
        state = env.reset(self.config.num_envs)
        sum_logpf = torch.zeros(state.batch_size)
        while not bool(state.done.all()):
            mask = env.action_mask(state)
            logp = self.policy.log_probs(state, mask)
            with torch.no_grad():
                actions = choose_actions(logp.detach(), mask, epsilon, self.generator)
            actions = torch.where(state.done, torch.full_like(actions, env.d * env.d), actions)
            step_lp = logp.gather(1, actions[:, None]).squeeze(1)
            sum_logpf = sum_logpf + torch.where(state.done, torch.zeros_like(step_lp), step_lp)
            state, _ = env.step(state, actions)
        log_r = self.reward.log_reward(state.adj)
        return trajectory_balance_loss(self.log_z, sum_logpf, log_r, state.adj.flatten(1).sum(1))

    # ---- loop -----------------------------------------------------------------------------------
    def step(self) -> float:
        """One iteration (see module docstring); returns its loss."""
        c = self.config
        eps = self.epsilon()
        if c.loss == "db":
            if len(self.buffer) == 0:
                self._prefill()
            for _ in range(c.env_steps):
                self.collect(eps)
            if self.extra_transitions is not None:
                extra = self.extra_transitions(self.iteration, self.generator)
                if extra is not None and len(extra):
                    self.buffer.add(extra, validate=True)
            loss = self.db_loss(self.buffer.sample(c.batch_size, self.generator))
        else:
            loss = self.tb_loss(eps)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if c.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.policy.parameters(), c.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        self.iteration += 1
        if self.target is not None and self.iteration % c.target_update_every == 0:
            self.target.load_state_dict(self.policy.state_dict())
        value = float(loss.detach())
        self.losses.append(value)
        return value

    def train(
        self,
        num_iterations: int | None = None,
        max_seconds: float | None = None,
        callback: Callable[[Trainer], None] | None = None,
    ) -> list[float]:
        """Run until ``num_iterations`` more iterations (default: up to config.num_iterations) or
        ``max_seconds`` of wall time; returns the losses of this call."""
        c = self.config
        target = c.num_iterations if num_iterations is None else self.iteration + num_iterations
        start_iter, t0 = self.iteration, time.perf_counter()
        bar = tqdm(total=target, initial=self.iteration, disable=not c.progress, desc="gfn", unit="it")
        try:
            while self.iteration < target:
                loss = self.step()
                bar.update(1)
                if self.iteration % c.log_every == 0:
                    self._record(loss, t0, start_iter, bar)
                    if callback is not None:
                        callback(self)
                if c.checkpoint_every and self.run_dir is not None and self.iteration % c.checkpoint_every == 0:
                    self.save(self.run_dir / "checkpoint.pt")
                if max_seconds is not None and time.perf_counter() - t0 >= max_seconds:
                    break
        finally:
            bar.close()
            self.train_seconds += time.perf_counter() - t0
        return self.losses[start_iter:]

    def _record(self, loss: float, t0: float, start_iter: int, bar: tqdm) -> None:
        elapsed = time.perf_counter() - t0
        window = self.losses[-self.config.log_every :]
        rec = {
            "iteration": self.iteration,
            "loss": sum(window) / len(window),
            "lr": self.optimizer.param_groups[0]["lr"],
            "epsilon": self.epsilon(),
            "it_per_s": (self.iteration - start_iter) / max(elapsed, 1e-9),
            "train_seconds": self.train_seconds + elapsed,
        }
        self.metrics.append(rec)
        bar.set_postfix(loss=f"{rec['loss']:.4f}", eps=f"{rec['epsilon']:.2f}")
        logger.debug("iteration %d loss %.5f", self.iteration, rec["loss"])
        if self.run_dir is not None:
            with open(self.run_dir / "metrics.jsonl", "a") as fh:
                fh.write(json.dumps(rec) + "\n")

    # ---- checkpoints ----------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        """Everything needed to continue this run bit for bit."""
        s = self.state
        torch.save({
            "version": 1,
            "config": self.config.to_dict(),
            "policy": self.policy.state_dict(),
            "target": None if self.target is None else self.target.state_dict(),
            "log_z": self.log_z.detach().clone(),
            "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(),
            "generator": self.generator.get_state(),
            "buffer": self.buffer.state_dict(),
            "state": {"adj": s.adj, "closure": s.closure, "features": s.features, "done": s.done},
            "iteration": self.iteration,
            "losses": list(self.losses),
            "metrics": list(self.metrics),
            "train_seconds": self.train_seconds,
        }, Path(path))

    @classmethod
    def load(
        cls,
        path: str | Path,
        reward: Reward,
        extra_transitions: ExtraTransitions | None = None,
        run_dir: str | Path | None = None,
        config: TrainerConfig | None = None,
    ) -> Trainer:
        """Resume from a checkpoint; a given ``config`` must equal the saved one."""
        ck = torch.load(Path(path), weights_only=True)  # tensors and plain containers only: a crafted file cannot run code
        if ck.get("version") != 1:
            raise CheckpointError(f"unknown checkpoint version {ck.get('version')!r} in {path}")
        saved = TrainerConfig.from_dict(ck["config"])
        if config is not None and config != saved:
            raise CheckpointError("the checkpoint was written with a different TrainerConfig")
        tr = cls(saved, reward, extra_transitions, run_dir)
        if tr.env.d != ck["state"]["adj"].shape[-1]:
            raise CheckpointError(f"checkpoint is over d = {ck['state']['adj'].shape[-1]} variables, reward over {tr.env.d}")
        tr.policy.load_state_dict(ck["policy"])
        if tr.target is not None:
            tr.target.load_state_dict(ck["target"])
        with torch.no_grad():
            tr.log_z.copy_(ck["log_z"])
        tr.optimizer.load_state_dict(ck["optimizer"])
        tr.scheduler.load_state_dict(ck["scheduler"])
        tr.generator.set_state(ck["generator"])
        tr.buffer.load_state_dict(ck["buffer"])
        tr.state = GraphState(**ck["state"])
        tr.iteration = ck["iteration"]
        tr.losses = ck["losses"]
        tr.metrics = ck["metrics"]
        tr.train_seconds = ck["train_seconds"]
        return tr

"""The training configuration of a GFlowNet run (saved as config.json in the run folder and in checkpoints)."""
from __future__ import annotations

from dataclasses import asdict, dataclass, field

from theorycov.gfn.errors import ConfigError
from theorycov.gfn.policy import PolicyConfig

__all__ = ["TrainerConfig"]


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
    ema: float = 0.0  # decay of an exponential moving average of the policy's weights, used to sample (Trainer.sampler); 0: off
    grad_clip: float = 10.0  # max gradient norm (0 disables)
    max_parents: int | None = None  # in-degree cap of the environment
    candidates: int = 0  # k of the candidate-parent screen (gfn/candidates.py) restricting the edges; 0: every edge
    nll_weight: float = 0.0  # weight of the warm-start likelihood of demonstrated steps (the trainer's demonstrations hook)
    nll_decay_iters: int = 0  # the weight falls linearly to 0 over this many iterations (0: constant), so training ends on the GFlowNet loss alone
    subtb_weight: float = 0.0  # weight of subtrajectory balance on whole trajectories to the ``trajectories`` hook's graphs (gfn/subtb.py); 0: off
    subtb_lambda: float = 0.5  # SubTB's weight of a stretch of k steps is subtb_lambda^k (Madan et al. 2023, eq. 7); 0.9 wrecked the d = 20 sampler (bench/RESULTS.md 2026-12-07)
    subtb_graphs: int = 4  # graphs asked from the hook per iteration (one random edge order each)
    subtb_huber: float = 1.0  # Huber threshold of a stretch's penalty (0: the square, as in Madan et al.)
    # "any": the uniform backward policy (every edge order); "strength" / "index": an ordered environment, one trajectory per
    # DAG and P_T exact (gfn/canonical.py)
    edge_order: str = "any"
    finetune_lr: float = 3e-5  # Adam learning rate of Trainer.finetune (gfn/finetune.py)
    finetune_batch: int = 64  # on-policy trajectories per fine-tuning step
    finetune_graphs: int = 0  # graphs from the trainer's ``trajectories`` hook (off-policy) per fine-tuning step
    finetune_epsilon: float = 0.0  # share of uniformly random actions in the fine-tuning trajectories' draws
    finetune_nll: float = 0.0  # weight of the forward-KL term on the finetune_graphs (their mean -log P_F(tau_G); gfn/finetune.py)
    finetune_source: str = "guide"  # where the finetune_graphs come from: "guide" (the trajectories hook) or "start" (the sampler before fine-tuning)
    policy: PolicyConfig = field(default_factory=PolicyConfig)  # network shape
    log_every: int = 100  # iterations between metrics records and progress-bar updates
    checkpoint_every: int = 0  # iterations between checkpoints in run_dir (0: only on request)
    progress: bool = True  # show a tqdm progress bar
    device: str = "cpu"  # where the policy, the environments' graphs, the buffer and the generator live

    def __post_init__(self) -> None:
        if self.loss not in ("db", "tb"):
            raise ConfigError(f"loss must be 'db' or 'tb', got {self.loss!r}")
        if self.lr_schedule not in ("cosine", "constant"):
            raise ConfigError(f"lr_schedule must be 'cosine' or 'constant', got {self.lr_schedule!r}")
        if not (0.0 <= self.eps_end <= 1.0 and 0.0 <= self.eps_start <= 1.0):
            raise ConfigError("exploration probabilities must lie in [0, 1]")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"ema must lie in [0, 1), got {self.ema}")
        if self.subtb_weight < 0 or not 0.0 < self.subtb_lambda <= 1.0 or self.subtb_graphs < 1:
            raise ConfigError("subtb_weight must be >= 0, subtb_lambda in (0, 1] and subtb_graphs >= 1")
        if self.loss == "tb" and self.policy.learn_backward:
            raise ConfigError("loss='tb' uses the uniform backward policy; policy.learn_backward needs loss='db'")
        if self.edge_order not in ("any", "strength", "index"):
            raise ConfigError(f"edge_order must be 'any', 'strength' or 'index', got {self.edge_order!r}")
        if self.edge_order != "any" and self.policy.learn_backward:
            raise ConfigError("an ordered environment (edge_order) fixes the backward policy; policy.learn_backward needs edge_order='any'")
        if self.finetune_lr <= 0 or self.finetune_batch < 2 or self.finetune_graphs < 0 or not 0.0 <= self.finetune_epsilon < 1.0 \
                or self.finetune_nll < 0:
            raise ConfigError("finetune_lr must be > 0, finetune_batch >= 2, finetune_graphs >= 0, finetune_epsilon in [0, 1) "
                              "and finetune_nll >= 0")
        if self.finetune_source not in ("guide", "start"):
            raise ConfigError(f"finetune_source must be 'guide' or 'start', got {self.finetune_source!r}")
        if self.candidates < 0:
            raise ConfigError(f"candidates must be >= 0, got {self.candidates}")
        if min(self.num_envs, self.batch_size, self.env_steps, self.replay_capacity) < 1:
            raise ConfigError("num_envs, batch_size, env_steps and replay_capacity must be >= 1")

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> TrainerConfig:
        d = dict(d)
        d["policy"] = PolicyConfig(**d.get("policy", {}))  # type: ignore[arg-type]
        return cls(**d)  # type: ignore[arg-type]

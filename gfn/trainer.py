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
from pathlib import Path

import torch
from tqdm.auto import tqdm

from theorycov.gfn.candidates import candidate_parents
from theorycov.gfn.canonical import edge_rank
from theorycov.gfn.checkpoint import load_checkpoint, save_checkpoint
from theorycov.gfn.config import TrainerConfig
from theorycov.gfn.env import DAGEnv, GraphState
from theorycov.gfn.finetune import finetune
from theorycov.gfn.losses import modified_db_loss, trajectory_balance_loss
from theorycov.gfn.policy import EdgePolicy
from theorycov.gfn.replay import ReplayBuffer, Transitions
from theorycov.gfn.reward import Reward
from theorycov.gfn.sampling import choose_actions, sample
from theorycov.gfn.subtb import subtb_on_graphs

__all__ = ["TrainerConfig", "Trainer", "ExtraTransitions"]

logger = logging.getLogger(__name__)

#: hook for off-policy transitions from outside: (iteration, generator) -> Transitions or None
ExtraTransitions = Callable[[int, torch.Generator], "Transitions | None"]
#: hook for demonstrated steps (warm start): (iteration, generator) -> (states (n, d, d) bool, actions (n,) incl. stop) or None
Demonstrations = Callable[[int, torch.Generator], "tuple[torch.Tensor, torch.Tensor] | None"]
#: hook for where finished environments restart: (number restarting, generator) -> (k <= n, d, d) bool DAGs or None
StartStates = Callable[[int, torch.Generator], "torch.Tensor | None"]
#: hook for graphs whose whole trajectories get subtrajectory balance: (number wanted, generator) -> (k, d, d) bool DAGs or None
TrajectoryGraphs = Callable[[int, torch.Generator], "torch.Tensor | None"]


class Trainer:
    """Trains an :class:`EdgePolicy` on a :class:`Reward`.

    extra_transitions: optional hook called once per iteration with (iteration, generator); the
    transitions it returns (validated) go into the replay buffer next to the sampler's own.
    start_states: optional hook asked, whenever environments finish, for graphs to restart some of them
    from instead of the empty graph (the sampler then continues on-policy from there; the same number of
    transitions per iteration, so it costs no reward evaluations beyond the sampler's own).
    run_dir: where config.json, metrics.jsonl and checkpoints go (None: nothing written).
    demonstrations: optional hook giving (state, action) pairs whose log-likelihood under P_F joins the loss
    with weight ``config.nll_weight`` (decaying to 0 over ``nll_decay_iters``): a warm start from, e.g., MCMC
    graphs cut along random edge orders (gfn/warmstart.py). It pulls P_F toward the demonstrations' own
    distribution, so it must fade: the fixed point of the loss that remains is R's.
    allowed: (d, d) bool candidate edges of the environment; default: the screen of ``config.candidates``
    (gfn/candidates.py) when it is > 0, else every edge.
    trajectories: optional hook giving graphs (e.g. an MCMC guide's current graphs) whose random-order
    trajectories from the empty graph join the loss through subtrajectory balance, weight ``config.subtb_weight``
    (gfn/subtb.py); graphs outside the environment's support are dropped.
    """

    def __init__(
        self,
        config: TrainerConfig,
        reward: Reward,
        extra_transitions: ExtraTransitions | None = None,
        run_dir: str | Path | None = None,
        start_states: StartStates | None = None,
        allowed: torch.Tensor | None = None,
        demonstrations: Demonstrations | None = None,
        trajectories: TrajectoryGraphs | None = None,
    ) -> None:
        self.config = config
        self.trajectories = trajectories
        self.demonstrations = demonstrations
        self.reward = reward
        self.extra_transitions = extra_transitions
        self.start_states = start_states
        self.run_dir = Path(run_dir) if run_dir is not None else None
        self.device = torch.device(config.device)
        if reward.device != self.device:  # the reward's tensors move (in place) to where the run lives
            reward.to(self.device)
        if allowed is None and config.candidates > 0:
            allowed = candidate_parents(reward, config.candidates)
        self.env = DAGEnv(reward, max_parents=config.max_parents, use_features=config.policy.use_delta, allowed=allowed,
                          edge_rank=edge_rank(config.edge_order, reward))
        with torch.random.fork_rng():  # initialization from the config seed, global RNG untouched
            torch.manual_seed(config.seed)
            self.policy = EdgePolicy(self.env, config.policy)  # built on the CPU: the same weights on every device
        self.policy.to(self.device)
        # log Z starts at log R(empty graph), a lower bound of the right scale (BGe scores are O(n d))
        empty = torch.zeros(1, self.env.d, self.env.d, dtype=torch.bool, device=self.device)
        self.log_z = torch.nn.Parameter(reward.log_reward(empty).to(torch.float32).reshape(()))
        groups: list[dict[str, object]] = [{"params": list(self.policy.parameters()), "lr": config.lr}]
        if config.loss == "tb":
            groups.append({"params": [self.log_z], "lr": config.log_z_lr})
        self.optimizer = torch.optim.Adam(groups)  # type: ignore[arg-type]
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)
        self.target: EdgePolicy | None = copy.deepcopy(self.policy) if config.target_update_every > 0 else None
        if self.target is not None:
            self.target.requires_grad_(False)
        self.average: EdgePolicy | None = None  # Polyak/EMA average of the policy's weights (config.ema > 0)
        if config.ema > 0:  # built on the same env, not deep-copied: a deepcopy would duplicate the reward's tensors
            self.average = EdgePolicy(self.env, config.policy).to(self.device)
            self.average.load_state_dict(self.policy.state_dict())
            self.average.requires_grad_(False)
        self.generator = torch.Generator(device=self.device).manual_seed(config.seed)
        self.buffer = ReplayBuffer(config.replay_capacity, self.env.d, self.device)
        self.state: GraphState = self.env.reset(config.num_envs)
        self.iteration = 0
        self.losses: list[float] = []  # loss of every iteration, in order
        self.metrics: list[dict[str, float]] = []  # records every log_every iterations
        self.train_seconds = 0.0  # wall time spent inside train()
        self.train_cpu_seconds = 0.0  # CPU time of this process spent inside train() (not checkpointed)
        self.subtb_evaluations = 0  # reward deltas spent on subtrajectory balance (one per trajectory step; not checkpointed)
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

    def nll_weight(self, it: int | None = None) -> float:
        """Weight of the demonstrations' likelihood at an iteration (linear decay to 0)."""
        c = self.config
        it = self.iteration if it is None else it
        if c.nll_decay_iters <= 0:
            return c.nll_weight
        return c.nll_weight * max(0.0, 1.0 - it / c.nll_decay_iters)

    # ---- data collection ------------------------------------------------------------------------
    @torch.no_grad()
    def collect(self, epsilon: float) -> int:
        """One environment step of all graphs; edge transitions go to the buffer. Returns how many."""
        env, state = self.env, self.state
        mask = env.slot_mask(state)  # slot space (gfn/env.py): the same draw as in action space, 9x narrower at d = 107
        logp = self.policy.slot_log_probs(state, mask)
        actions = env.slot_actions(choose_actions(logp, mask, epsilon, self.generator))
        nxt, delta = env.step(state, actions)
        is_edge = actions < env.d * env.d
        if bool(is_edge.any()):
            self.buffer.add(Transitions(state.adj[is_edge], actions[is_edge], delta[is_edge], state.closure[is_edge]))
        self.state = env.reset_where(nxt, nxt.done)  # stopped graphs restart from the empty graph ...
        if self.start_states is not None and bool(nxt.done.any()):  # ... or from graphs the hook chooses
            starts = self.start_states(int(nxt.done.sum()), self.generator)
            if starts is not None and self.env.allowed is not None:
                starts = starts[~(starts.to(self.device) & ~self.env.allowed).flatten(1).any(1)]
            if starts is not None and starts.shape[0] > 0:
                rows = nxt.done.nonzero().flatten()[: starts.shape[0]]
                self.state = env.set_where(self.state, rows, starts[: rows.numel()])
        return int(is_edge.sum())

    def _inside_candidates(self, t: Transitions) -> Transitions:
        """The hook's transitions whose state and added edge lie inside the environment's candidate edges (and, in an
        ordered environment, whose edge ranks above the state's highest-ranked one).

        A hook may build graphs outside them (a theory's hill-climbed completion, a guide without the mask);
        such a transition has no probability under the masked policy, so it is dropped, not learned from.
        """
        allowed, env = self.env.allowed, self.env
        if allowed is None and not env.ordered:
            return t
        adj, act = t.adj.to(self.device), t.actions.to(self.device)
        d = self.env.d
        keep = torch.ones(act.shape[0], dtype=torch.bool, device=self.device)
        if allowed is not None:
            keep &= ~(adj & ~allowed).flatten(1).any(1) & allowed.flatten()[act.clamp(0, d * d - 1)]
        if env.rank_action is not None:
            keep &= env.rank_action[act.clamp(0, d * d - 1)] > env.max_rank(adj)
        if bool(keep.all()):
            return t
        return Transitions(adj[keep], act[keep], t.delta_log_reward.to(self.device)[keep])

    def _prefill(self) -> None:
        while len(self.buffer) < min(self.config.prefill, self.config.replay_capacity):
            self.collect(1.0 if self.config.eps_start >= 1.0 else self.config.eps_start)

    # ---- losses ---------------------------------------------------------------------------------
    def db_loss(self, batch: Transitions) -> torch.Tensor:
        """Modified detailed balance loss of a batch of transitions (scalar, with grad)."""
        env = self.env
        M = batch.adj.shape[0]
        st, nx = env.transition_states(batch.adj, batch.actions, batch.closure)
        nxt_adj = nx.adj
        slots = env.slot[batch.actions]  # replayed edges lie inside the candidates (_inside_candidates)
        pb = None  # log P_B(. | G') of a learned backward policy, (M, E); None: the uniform one
        if self.target is None:  # one forward pass over G and G' together
            both = GraphState(torch.cat([st.adj, nx.adj]), torch.cat([st.closure, nx.closure]),
                              None if st.features is None else torch.cat([st.features, nx.features]),  # type: ignore[list-item]
                              torch.cat([st.done, nx.done]))
            logp, pb_both = self.policy.slot_log_probs_and_pb(both)
            logp_s, next_stop = logp[:M], logp[M:, -1]
            pb = None if pb_both is None else pb_both[M:]
        else:
            logp_s = self.policy.slot_log_probs(st)
            with torch.no_grad():
                next_stop = self.target.slot_log_probs(nx)[:, -1]
            if self.policy.back_head is not None:
                pb = self.policy.slot_log_pb(nx)
        log_pb = None if pb is None else pb.gather(1, slots[:, None]).squeeze(1)  # log P_B(G | G'): G' back to G
        n_next = nxt_adj.flatten(1).sum(1)
        return modified_db_loss(logp_s, next_stop, slots, batch.delta_log_reward, n_next, self.config.huber_delta, log_pb)

    def tb_loss(self, epsilon: float) -> torch.Tensor:
        """Trajectory balance on num_envs fresh trajectories (scalar, with grad)."""
        env = self.env
        state = env.reset(self.config.num_envs)
        sum_logpf = torch.zeros(state.batch_size, device=self.device)
        while not bool(state.done.all()):
            mask = env.slot_mask(state)
            logp = self.policy.slot_log_probs(state, mask)
            with torch.no_grad():
                actions = env.slot_actions(choose_actions(logp.detach(), mask, epsilon, self.generator))
            actions = torch.where(state.done, torch.full_like(actions, env.d * env.d), actions)
            step_lp = logp.gather(1, env.slot[actions][:, None]).squeeze(1)
            sum_logpf = sum_logpf + torch.where(state.done, torch.zeros_like(step_lp), step_lp)
            state, _ = env.step(state, actions)
        log_r = self.reward.log_reward(state.adj)
        m = state.adj.flatten(1).sum(1)
        return trajectory_balance_loss(self.log_z, sum_logpf, log_r, m, env.log_pb_trajectory(m))

    def _subtb(self) -> torch.Tensor:
        """Subtrajectory balance on the ``trajectories`` hook's graphs inside the support (scalar, with grad; 0 without any)."""
        graphs = self.trajectories(self.config.subtb_graphs, self.generator)  # type: ignore[misc]
        if graphs is None or graphs.shape[0] == 0:
            return torch.zeros((), device=self.device)
        loss, steps = subtb_on_graphs(self.policy, self.env, graphs, self.config.subtb_lambda, self.config.subtb_huber or None, self.generator)
        self.subtb_evaluations += steps
        return loss

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
                    self.buffer.add(self._inside_candidates(extra), validate=True)
            loss = self.db_loss(self.buffer.sample(c.batch_size, self.generator))
        else:
            loss = self.tb_loss(eps)
        if c.subtb_weight > 0 and self.trajectories is not None:
            loss = loss + c.subtb_weight * self._subtb()
        w = self.nll_weight()
        if w > 0 and self.demonstrations is not None:
            demo = self.demonstrations(self.iteration, self.generator)
            if demo is not None and demo[0].shape[0] > 0:
                logp = self.policy.slot_log_probs(self.env.states(demo[0]))
                loss = loss - w * logp.gather(1, self.env.slot[demo[1]][:, None]).mean()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if c.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.policy.parameters(), c.grad_clip)
        self.optimizer.step()
        self.scheduler.step()
        if self.average is not None:
            with torch.no_grad():  # avg <- ema * avg + (1 - ema) * theta
                torch._foreach_lerp_(list(self.average.parameters()), list(self.policy.parameters()), 1.0 - c.ema)
        self.iteration += 1
        if self.target is not None and self.iteration % c.target_update_every == 0:
            self.target.load_state_dict(self.policy.state_dict())
        value = float(loss.detach())
        self.losses.append(value)
        return value

    def finetune(self, iterations: int | None = None, max_cpu_seconds: float | None = None) -> dict[str, float]:
        """Fine-tune :attr:`sampler` in place with the log-variance loss on its own trajectories (gfn/finetune.py;
        ``config.finetune_lr``, ``config.finetune_batch``) and ``config.finetune_graphs`` graphs a step from the
        ``trajectories`` hook (the MCMC guide's), or with ``config.finetune_source = "start"`` drawn from a frozen copy of
        the sampler as fine-tuning begins (more diffuse than the fine-tuned one: against its over-concentration); draws
        from the run's generator; returns its summary."""
        c = self.config
        hook = self.trajectories
        if c.finetune_source == "start":
            start = EdgePolicy(self.env, c.policy).to(self.device)  # not deep-copied: that would duplicate the reward's tensors
            start.load_state_dict(self.sampler.state_dict())
            start.requires_grad_(False)
            hook = lambda n, g: sample(start, n, generator=g)  # noqa: E731
        return finetune(self.sampler, iterations, max_cpu_seconds, lr=c.finetune_lr, batch=c.finetune_batch, generator=self.generator,
                        graphs=hook, off_policy=c.finetune_graphs, epsilon=c.finetune_epsilon, nll_weight=c.finetune_nll)

    @property
    def sampler(self) -> EdgePolicy:
        """The policy to sample from: the average of the weights when ``config.ema > 0``, else the policy.

        The averaged weights (Polyak averaging, an exponential moving average with decay ``ema``) damp
        the last updates' noise: at d = 20 the sampler's quality varied between runs as much as
        between settings (bench/RESULTS.md, gfn_scale d20)."""
        return self.average if self.average is not None else self.policy

    def train(
        self,
        num_iterations: int | None = None,
        max_seconds: float | None = None,
        callback: Callable[[Trainer], None] | None = None,
        max_cpu_seconds: float | None = None,
    ) -> list[float]:
        """Run until ``num_iterations`` more iterations (default: up to config.num_iterations),
        ``max_seconds`` of wall time or ``max_cpu_seconds`` of this process's CPU time (the budget that stays
        comparable on a shared machine); returns the losses of this call."""
        c = self.config
        target = c.num_iterations if num_iterations is None else self.iteration + num_iterations
        start_iter, t0, cpu0 = self.iteration, time.perf_counter(), time.process_time()
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
                if max_cpu_seconds is not None and time.process_time() - cpu0 >= max_cpu_seconds:
                    break
        finally:
            bar.close()
            self.train_seconds += time.perf_counter() - t0
            self.train_cpu_seconds += time.process_time() - cpu0
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

    # ---- checkpoints (gfn/checkpoint.py) -------------------------------------------------------
    #: ``trainer.save(path)``: everything needed to continue this run bit for bit.
    save = save_checkpoint
    #: ``Trainer.load(path, reward, extra_transitions=None, run_dir=None, config=None)``: resume from a checkpoint;
    #: a given ``config`` must equal the saved one.
    load = classmethod(load_checkpoint)

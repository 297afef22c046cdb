"""The fast paths equal the slow ones: slot-space masks and log-probabilities against action space, features
at the feature edges against the full (B, d, d) deltas (also after steps), the packed replay buffer against
the graphs it was given, and the trainer's slot-space loss against the action-space loss it replaced."""
from __future__ import annotations

import pytest
import torch

from theorycov.gfn import BGeScore, PolicyConfig, Reward, Trainer, TrainerConfig, transitive_closure
from theorycov.gfn.candidates import candidate_parents
from theorycov.gfn.data import make_linear_gaussian_er
from theorycov.gfn.env import DAGEnv
from theorycov.gfn.losses import modified_db_loss
from theorycov.gfn.policy import EdgePolicy
from theorycov.gfn.replay import ReplayBuffer, Transitions


@pytest.fixture(scope="module")
def reward9() -> Reward:
    data, _ = make_linear_gaussian_er(9, 1.5, 150, seed=2)
    return Reward(BGeScore(data.standardized()))


def _asymmetric(reward: Reward) -> torch.Tensor:
    """Candidate edges with some reverses left out, so that the features hold extra (reverse) columns."""
    allowed = candidate_parents(reward, 3)
    upper = torch.triu(torch.ones(9, 9, dtype=torch.bool), 1)
    drop = allowed & upper & (torch.rand(9, 9, generator=torch.Generator().manual_seed(1)) < 0.4)
    return allowed & ~drop


def _walk(env: DAGEnv, n: int, steps: int, seed: int) -> list:
    """States met by random valid edge steps (stop excluded while an edge is possible)."""
    g = torch.Generator().manual_seed(seed)
    state, out = env.reset(n), []
    for _ in range(steps):
        out.append(state)
        mask = env.action_mask(state)
        mask[:, -1] = ~mask[:, :-1].any(1)
        state, _ = env.step(state, torch.rand(mask.shape, generator=g).masked_fill(~mask, -1.0).argmax(1))
    return out


@pytest.mark.parametrize("restricted", [True, False])
def test_slot_space_equals_action_space(reward9: Reward, restricted: bool) -> None:
    allowed = _asymmetric(reward9) if restricted else None
    env = DAGEnv(reward9, allowed=allowed)
    if restricted:
        assert env.feature_edges.numel() > env.edges.numel()  # some reverse edges are features only
    torch.manual_seed(0)
    pol = EdgePolicy(env, PolicyConfig(hidden=16, delta_transform="log", delta_hidden=4))
    with torch.no_grad():  # trained-looking weights: the zero-initialized head and edge net would hide mistakes
        for p in pol.parameters():
            p.add_(0.3 * torch.randn_like(p))
    stop = torch.tensor([81])
    cols = torch.cat([env.edges, stop])
    for state in _walk(env, 6, 12, seed=3):
        full = reward9.delta_features(state.adj).to(torch.float32).flatten(1)[:, env.feature_edges]
        assert torch.allclose(state.features, full, atol=1e-5)  # incremental column updates, kept exact
        assert torch.allclose(env.features(state.adj), full, atol=1e-5)
        assert torch.equal(env.slot_mask(state), env.action_mask(state)[:, cols])
        with torch.no_grad():
            a, s = pol.log_probs(state), pol.slot_log_probs(state)
        assert torch.allclose(a[:, cols], s, atol=1e-6)
        assert torch.equal(env.slot[cols], torch.arange(cols.numel()))
        assert torch.equal(env.slot_actions(torch.arange(cols.numel())), cols)


def test_packed_replay_buffer_returns_what_it_was_given(reward9: Reward) -> None:
    env = DAGEnv(reward9)
    states = _walk(env, 5, 10, seed=4)
    adj = torch.cat([s.adj for s in states])
    closure = transitive_closure(adj)
    actions = torch.zeros(adj.shape[0], dtype=torch.int64)
    buf = ReplayBuffer(30, 9)
    buf.add(Transitions(adj, actions, torch.arange(adj.shape[0], dtype=torch.float64), closure))  # 50 > 30: the newest
    assert torch.equal(buf.adj, adj[-30:])
    b = buf.sample(64, torch.Generator().manual_seed(0))
    assert torch.equal(b.adj, adj[b.delta_log_reward.long()]) and torch.equal(b.closure, transitive_closure(b.adj))
    old = {"adj": buf.adj, "actions": buf.actions[:30], "delta": buf.delta[:30], "pos": buf.pos, "size": 30, "capacity": 30}
    again = ReplayBuffer(30, 9)
    again.load_state_dict(old)  # a checkpoint from before the packed storage
    assert torch.equal(again.closure_bits, buf.closure_bits) and torch.equal(again.adj_bits, buf.adj_bits)


def test_trainer_slot_loss_equals_the_action_space_loss(reward9: Reward) -> None:
    cfg = TrainerConfig(seed=0, num_envs=8, batch_size=32, prefill=64, progress=False, candidates=3,
                        policy=PolicyConfig(hidden=16, delta_transform="log"))
    tr = Trainer(cfg, reward9)
    tr.train(num_iterations=30)
    batch = tr.buffer.sample(32, torch.Generator().manual_seed(5))
    st, nx = tr.env.transition_states(batch.adj, batch.actions)  # closures recomputed, not the buffer's
    lp, lp_next = tr.policy.log_probs(st), tr.policy.log_probs(nx)
    old = modified_db_loss(lp, lp_next[:, -1], batch.actions, batch.delta_log_reward, nx.adj.flatten(1).sum(1))
    assert torch.allclose(tr.db_loss(batch), old, atol=1e-6)


@pytest.mark.parametrize(("delta_hidden", "max_parents", "restricted", "use_delta", "ordered"),
                         [(0, None, True, True, False), (4, 2, True, True, False), (0, 3, False, True, False), (0, None, True, False, False),
                          (0, None, True, True, True), (4, 3, False, True, True)])
def test_inplace_rollout_equals_env_steps(reward9: Reward, delta_hidden: int, max_parents: int | None, restricted: bool,
                                          use_delta: bool, ordered: bool) -> None:
    """The sampler's in-place rollout (packed closure rows, incremental mask and logits) against DAGEnv.step and a
    fresh forward pass of the policy, along random trajectories in which graphs stop at different times; also in an
    ordered environment (gfn/canonical.py), whose mask closes every slot ranked below the last added edge."""
    from theorycov.gfn.canonical import strength_rank
    from theorycov.gfn.rollout import Rollout, _unpack_row

    env = DAGEnv(reward9, allowed=_asymmetric(reward9) if restricted else None, max_parents=max_parents,
                 edge_rank=strength_rank(reward9) if ordered else None)
    torch.manual_seed(1)
    pol = EdgePolicy(env, PolicyConfig(hidden=16, delta_transform="log", delta_hidden=delta_hidden, use_delta=use_delta))
    with torch.no_grad():
        for p in pol.parameters():
            p.add_(0.3 * torch.randn_like(p))
    g = torch.Generator().manual_seed(7)
    state = env.reset(10)
    with torch.no_grad():
        roll = Rollout(pol, state)
        for t in range(25):
            ref_mask = env.slot_mask(state)
            assert torch.equal(roll.mask, ref_mask) and torch.equal(roll.adj, state.adj)
            closure = torch.stack([_unpack_row(roll.reach[b], 9) for b in range(10)])
            assert torch.equal(closure, state.closure)
            if use_delta:
                assert torch.allclose(roll.features, state.features, atol=1e-6)  # type: ignore[arg-type]
            ref = pol.slot_logits(state.adj, state.features).masked_fill(~ref_mask, float("-inf"))
            got = roll.slot_logits()
            assert torch.equal(torch.isinf(got), torch.isinf(ref))
            assert torch.allclose(got[~torch.isinf(ref)], ref[~torch.isinf(ref)], atol=1e-5)
            draw = torch.rand(ref_mask.shape, generator=g).masked_fill(~ref_mask, -1.0)
            if t < 20:  # mostly edges, a graph stopping now and then
                draw[:, -1] = torch.where(torch.rand(10, generator=g) < 0.08, 2.0, -0.5)
            slots = torch.where(state.done, torch.full((10,), roll.stop), draw.argmax(1))
            roll.step(slots)
            state, _ = env.step(state, env.slot_actions(slots), with_delta=False)
        assert torch.equal(roll.done, state.done)
    assert 0 < int(state.adj.flatten(1).sum(1).min()) < int(state.adj.flatten(1).sum(1).max())  # stopped at different times


@pytest.mark.parametrize("d", [9, 64, 107])
def test_packed_closure_rows_round_trip(d: int) -> None:
    from theorycov.gfn.rollout import _pack_rows, _unpack_row

    x = torch.rand(3, d, d, generator=torch.Generator().manual_seed(d)) < 0.5
    x[:, :, -1] = True  # the last bit of a row, the sign bit of a word at d = 64
    words = _pack_rows(x)
    assert words.shape == (3, d, -(-d // 64))
    assert torch.equal(_unpack_row(words.view(3 * d, -1), d).view(3, d, d), x)


def _reference_sample(pol: EdgePolicy, n: int, generator: torch.Generator) -> torch.Tensor:
    """The sampler as it was before the in-place rollouts: action space, DAGEnv.step, every graph to stop."""
    from theorycov.gfn.sampling import choose_from_probs

    env, d = pol.env, pol.env.d
    state = env.reset(n)
    result = state.adj.clone()
    alive = torch.arange(n)
    while alive.numel() > 0:
        mask = env.action_mask(state)
        logits = pol.logits(state.adj, state.features).masked_fill(~mask, float("-inf"))
        actions = choose_from_probs(torch.softmax(logits, dim=1), mask, 0.0, generator)
        actions = torch.where(state.done, torch.full_like(actions, d * d), actions)
        state, _ = env.step(state, actions, with_delta=False)
        finished = state.done
        n_fin = int(finished.sum())
        if n_fin == finished.numel() or n_fin >= max(1, finished.numel() // 8):
            result[alive[finished]] = state.adj[finished]
            alive, state = alive[~finished], state.index(~finished)
    return result


@pytest.mark.parametrize("restricted", [True, False])
def test_sampler_draws_the_graphs_the_action_space_sampler_drew(reward9: Reward, restricted: bool) -> None:
    """One batch (n <= batch_size), same generator: the in-place slot-space sampler makes the same draws as the
    action-space loop it replaced (the stop and edge order of the slots is the actions' order), graph for graph;
    with refills (n > batch_size) the draws interleave differently, the distribution is the same."""
    from theorycov.gfn import sample

    env = DAGEnv(reward9, allowed=_asymmetric(reward9) if restricted else None)
    torch.manual_seed(2)
    pol = EdgePolicy(env, PolicyConfig(hidden=16, delta_transform="log"))
    with torch.no_grad():
        for p in pol.parameters():
            p.add_(0.3 * torch.randn_like(p))
        ref = _reference_sample(pol, 300, torch.Generator().manual_seed(11))
        new = sample(pol, 300, generator=torch.Generator().manual_seed(11), batch_size=512)
        assert torch.equal(new, ref)
        many = sample(pol, 3000, generator=torch.Generator().manual_seed(12), batch_size=256)  # 12 refills
        ref_many = _reference_sample(pol, 3000, torch.Generator().manual_seed(13))
    assert float((many.double().mean(0) - ref_many.double().mean(0)).abs().max()) < 0.05  # edge marginals


def test_checkpoint_written_before_slot_features_still_loads(reward9: Reward, tmp_path) -> None:  # noqa: ANN001
    """Checkpoints from before this layout held (B, d, d) features and a bool replay buffer: they resume as before."""
    cfg = TrainerConfig(seed=0, num_envs=4, batch_size=16, prefill=32, progress=False, candidates=3,
                        policy=PolicyConfig(hidden=16, delta_transform="log"))
    tr = Trainer(cfg, reward9)
    tr.train(num_iterations=10)
    tr.save(tmp_path / "new.pt")
    ck = torch.load(tmp_path / "new.pt", weights_only=True)
    full = reward9.delta_features(tr.state.adj).to(torch.float32)  # (B, d, d), as the old environment kept them
    ck["state"]["features"] = full
    buf = ck["buffer"]
    ck["buffer"] = {"adj": tr.buffer.adj, "actions": buf["actions"], "delta": buf["delta"], "pos": buf["pos"],
                    "size": buf["size"], "capacity": buf["capacity"]}
    torch.save(ck, tmp_path / "old.pt")
    old = Trainer.load(tmp_path / "old.pt", reward9)
    assert torch.allclose(old.state.features, tr.state.features, atol=1e-6)  # type: ignore[arg-type]
    assert torch.equal(old.buffer.adj_bits[: len(tr.buffer)], tr.buffer.adj_bits[: len(tr.buffer)])
    assert torch.equal(old.buffer.closure_bits[: len(tr.buffer)], tr.buffer.closure_bits[: len(tr.buffer)])
    a, b = tr.train(num_iterations=5), old.train(num_iterations=5)
    assert a == pytest.approx(b, abs=1e-6)

"""theorycov.gfn: a fast, exactly verified GFlowNet posterior over causal graphs.

DAG-GFlowNet (Deleu et al., UAI 2022) on batched tensors: decomposable BGe / BDeu scores with
interventional data, graph priors (with a hook for outside priors), a vectorized DAG environment, a
reward-informed MLP policy, the modified detailed balance and trajectory balance losses, replay with
epsilon-uniform exploration, a reproducible trainer, samplers, exact tools for d <= 5, and metrics.
Importing this package loads only torch, numpy and scipy.
"""
from theorycov.gfn.data import DataTable, make_linear_gaussian_er, sample_erdos_renyi_dag, sample_linear_gaussian
from theorycov.gfn.env import DAGEnv, GraphState
from theorycov.gfn.errors import (
    CheckpointError,
    ConfigError,
    CyclicGraphError,
    DataError,
    GFNError,
    InvalidActionError,
    ShapeError,
    UnknownVariableError,
)
from theorycov.gfn.exact import enumerate_dags, exact_log_posterior, exact_posterior, exact_terminal_distribution
from theorycov.gfn.graphs import check_acyclic, graph_codes, is_acyclic, transitive_closure
from theorycov.gfn.losses import modified_db_loss, modified_db_residual, trajectory_balance_loss
from theorycov.gfn.metrics import (
    auprc,
    auroc,
    distribution_metrics,
    edge_marginal_agreement,
    edge_marginals,
    edge_marginals_from_samples,
    expected_num_edges,
    expected_shd,
    jensen_shannon,
    kl_divergence,
)
from theorycov.gfn.policy import EdgePolicy, PolicyConfig
from theorycov.gfn.replay import ReplayBuffer, Transitions, trajectory_transitions
from theorycov.gfn.reward import Reward
from theorycov.gfn.sachs import SACHS_CONSENSUS_EDGES, SACHS_VARIABLES, load_sachs, sachs_consensus_adjacency
from theorycov.gfn.local_search import local_search
from theorycov.gfn.sampling import choose_actions, log_pt_backward, order_spread, sample, trajectory_log_weights
from theorycov.gfn.scores import (
    BDeuScore,
    BGeScore,
    CallablePrior,
    EdgeCountPrior,
    ErdosRenyiPrior,
    GraphPrior,
    LocalScore,
    UniformPrior,
)
from theorycov.gfn.config import TrainerConfig
from theorycov.gfn.trainer import ExtraTransitions, Trainer

__all__ = [
    # data
    "DataTable", "make_linear_gaussian_er", "sample_erdos_renyi_dag", "sample_linear_gaussian",
    "load_sachs", "sachs_consensus_adjacency", "SACHS_VARIABLES", "SACHS_CONSENSUS_EDGES",
    # scores, priors, reward
    "LocalScore", "BGeScore", "BDeuScore", "GraphPrior", "UniformPrior", "EdgeCountPrior",
    "ErdosRenyiPrior", "CallablePrior", "Reward",
    # environment, policy, losses, replay, training
    "DAGEnv", "GraphState", "EdgePolicy", "PolicyConfig", "modified_db_loss", "modified_db_residual",
    "trajectory_balance_loss", "ReplayBuffer", "Transitions", "trajectory_transitions", "Trainer", "TrainerConfig", "ExtraTransitions",
    # sampling and exact tools
    "sample", "local_search", "choose_actions", "log_pt_backward", "order_spread", "trajectory_log_weights", "enumerate_dags", "exact_posterior",
    "exact_log_posterior", "exact_terminal_distribution",
    # graphs and metrics
    "transitive_closure", "is_acyclic", "check_acyclic", "graph_codes",
    "jensen_shannon", "kl_divergence", "edge_marginals", "edge_marginals_from_samples",
    "edge_marginal_agreement", "expected_shd", "expected_num_edges", "auroc", "auprc", "distribution_metrics",
    # errors
    "GFNError", "ShapeError", "CyclicGraphError", "InvalidActionError", "UnknownVariableError",
    "DataError", "ConfigError", "CheckpointError",
]

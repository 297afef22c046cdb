"""Decomposable scores (BGe, BDeu) and graph priors."""
from theorycov.gfn.scores.base import LocalScore
from theorycov.gfn.scores.bdeu import BDeuScore
from theorycov.gfn.scores.bge import BGeScore
from theorycov.gfn.scores.priors import CallablePrior, EdgeCountPrior, ErdosRenyiPrior, GraphPrior, UniformPrior

__all__ = [
    "LocalScore",
    "BGeScore",
    "BDeuScore",
    "GraphPrior",
    "UniformPrior",
    "EdgeCountPrior",
    "ErdosRenyiPrior",
    "CallablePrior",
]

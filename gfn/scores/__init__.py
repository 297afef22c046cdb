"""Decomposable scores (BGe, BDeu) and graph priors."""
from .base import LocalScore
from .bdeu import BDeuScore
from .bge import BGeScore
from .priors import CallablePrior, EdgeCountPrior, ErdosRenyiPrior, GraphPrior, UniformPrior

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

"""A stand-in for the ``implicit`` package that maps its class names and constructor
arguments onto mercato, so implicit's own test files run against mercato unchanged.

Only names and constructor arguments are mapped here; every behaviour comes from mercato.
implicit's defaults are passed explicitly where mercato's differ (factors, regularization,
alpha, confidence), so each test builds the model it was written for.
"""

from . import als, bpr, cpu, evaluation, gpu, nearest_neighbours, utils  # noqa: F401

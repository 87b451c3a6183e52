from mercato.fraud import COPOD as _COPOD

from ._threads import num_threads


def COPOD(contamination=0.1, n_jobs=1):
    return _COPOD(contamination=contamination, num_threads=num_threads(n_jobs))

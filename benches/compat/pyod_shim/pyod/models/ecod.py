from mercato.fraud import ECOD as _ECOD

from ._threads import num_threads


def ECOD(contamination=0.1, n_jobs=1):
    return _ECOD(contamination=contamination, num_threads=num_threads(n_jobs))

from mercato.fraud import Mahalanobis

from ._threads import dropped


def MCD(contamination=0.1, store_precision=True, assume_centered=False, support_fraction=None, random_state=None):
    # mercato's MCD is deterministic (random_state has nothing to seed) and always stores the
    # precision; assume_centered=True would change the model: warned.
    dropped("MCD", dict(assume_centered=assume_centered), dict(assume_centered=False))
    return Mahalanobis(covariance="mcd", support_fraction=support_fraction, contamination=contamination)

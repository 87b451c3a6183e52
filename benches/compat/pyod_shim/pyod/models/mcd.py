from mercato.fraud import Mahalanobis


def MCD(contamination=0.1, store_precision=True, assume_centered=False, support_fraction=None, random_state=None):
    return Mahalanobis(covariance="mcd", support_fraction=support_fraction, contamination=contamination)

from mercato.fraud import HBOS as _HBOS


def HBOS(n_bins=10, alpha=0.1, tol=0.5, contamination=0.1):
    return _HBOS(n_bins=n_bins, alpha=alpha, tol=tol, contamination=contamination)

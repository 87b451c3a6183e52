"""implicit.cpu.als: ``calculate_loss``, implicit's ALS objective, from mercato's core."""

import numpy as np
import scipy.sparse as sp
from mercato._mercato import recommend as _r


def calculate_loss(Cui, X, Y, regularization, num_threads=0):
    """implicit's normalised ALS loss for factors X (users) and Y (items) on ``Cui``
    (confidence ``c = r``: implicit passes already-scaled confidences)."""
    m = sp.csr_matrix(Cui)
    csr = (m.indptr.astype(np.int64), m.indices.astype(np.int64), m.data.astype(np.float32), *m.shape)
    X = np.ascontiguousarray(X, dtype=np.float32)
    Y = np.ascontiguousarray(Y, dtype=np.float32)
    return _r.als_loss(csr, X, Y, float(regularization), 1.0, "implicit")

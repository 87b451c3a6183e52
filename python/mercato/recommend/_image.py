"""``ImageFeatures``: product photos (their CNN embeddings) as hybrid item features, so a new
product known only by its picture can be recommended from day one.

``ImageClassifier.embed(images)`` gives each picture hundreds of penultimate-layer values,
mostly redundant. ``ImageFeatures`` keeps the few directions along which the catalogue's
pictures vary (principal components fitted on the catalogue), standardises each, and splits
it into a ``+`` and a ``-`` column, because ``HybridMF`` feature weights are non-negative.
The output is a ``scipy.sparse`` matrix to pass as (or stack beside) ``item_features``.
"""

from __future__ import annotations

import numpy as np

from mercato._base import Estimator, as_matrix, params_json
from mercato._mercato import recommend as _r

__all__ = ["ImageFeatures"]


def _embeddings(X):
    """Item embeddings as a C-ordered float32 matrix (the native side reads rows)."""
    return np.ascontiguousarray(as_matrix(X, "embeddings", dtype=np.float32)[0])


class ImageFeatures(Estimator):
    """Principal directions of image embeddings as non-negative item features
    (a scikit-learn transformer).

    Parameters
    ----------
    n_components : directions kept (default 16; fewer when the catalogue spans fewer).
        ``transform`` returns ``2 * n_components_`` columns, each block scaled by
        ``1/sqrt(n_components_)`` so it weighs about as much as one unit-weight feature.

    Example
    -------
    >>> emb = clf.embed(catalogue_pictures)               # (n_items, d) float32
    >>> img = ImageFeatures(n_components=16).fit(emb)
    >>> item_features = scipy.sparse.hstack([categories, img.transform(emb)]).tocsr()
    >>> model = HybridMF(item_identity=False).fit(user_items, item_features=item_features)
    >>> new_rows = scipy.sparse.hstack([new_categories, img.transform(clf.embed(new_pictures))])
    >>> model.item_embeddings(new_rows.tocsr())           # a photo-only product, placed

    Deterministic: the same embeddings give the same directions (signs fixed).
    """

    _kinds = ("recommend.image_features",)

    def __init__(self, n_components=16):
        self.n_components = n_components

    def _rust_params(self):
        return {"n_components": self.n_components}

    def fit(self, X, y=None):
        """Fits the directions on the catalogue's embeddings (items x dimensions); returns self."""
        self._adopt(_r._ImageFeatures.fit(params_json(self._rust_params()), _embeddings(X)))
        return self

    def transform(self, X):
        """Feature rows (``scipy.sparse.csr_matrix``, float32, ``n_features_out_`` columns) for
        embeddings of catalogue items or new ones (same embedding model)."""
        import scipy.sparse as sp

        m = self._fitted()
        X = _embeddings(X)
        indptr, indices, data = m.transform(X)
        return sp.csr_matrix((data, indices, indptr), shape=(X.shape[0], m.n_features))

    def fit_transform(self, X, y=None):
        return self.fit(X).transform(X)

    def get_feature_names_out(self, input_features=None, prefix="img"):
        """Column names ``img0+``, ``img0-``, ... (scikit-learn's transformer convention)."""
        return np.asarray(self._fitted().names(prefix), dtype=object)

    @property
    def n_components_(self) -> int:
        """Directions kept (at most ``n_components``)."""
        return self._fitted().n_components

    @property
    def n_features_in_(self) -> int:
        """Length of the embeddings it was fitted on."""
        return self._fitted().dim

    @property
    def n_features_out_(self) -> int:
        return self._fitted().n_features

    @classmethod
    def _native_from_bytes(cls, data):
        return _r._ImageFeatures.from_bytes(bytes(data))

    @classmethod
    def _params_from_native(cls, native):
        return {"n_components": native.n_components}

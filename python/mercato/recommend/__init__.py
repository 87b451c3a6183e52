"""Recommenders: explicit ratings (``TruncatedSVD``, ``Baseline``, ``FunkSVD``, ``SVDpp``,
``KNN``), implicit feedback (``ALS``, ``BPR``, ``ItemKNN``) and hybrid factorisation with
features (``HybridMF``, ``HybridDataset``, ``ImageFeatures`` for product photos),
content-based similarity (``ItemContent``, ``blend``) with top-N serving."""

from mercato.recommend._content import *  # noqa: F403
from mercato.recommend._content import __all__ as _content_all
from mercato.recommend._explicit import *  # noqa: F403
from mercato.recommend._explicit import __all__ as _explicit_all
from mercato.recommend._hybrid import *  # noqa: F403
from mercato.recommend._hybrid import __all__ as _hybrid_all
from mercato.recommend._image import *  # noqa: F403
from mercato.recommend._image import __all__ as _image_all
from mercato.recommend._implicit import *  # noqa: F403
from mercato.recommend._implicit import __all__ as _implicit_all
from mercato.recommend._sequential import *  # noqa: F403
from mercato.recommend._sequential import __all__ as _sequential_all
from mercato.recommend._svd import *  # noqa: F403
from mercato.recommend._svd import __all__ as _svd_all

__all__ = [*_content_all, *_explicit_all, *_hybrid_all, *_image_all, *_implicit_all, *_sequential_all, *_svd_all]

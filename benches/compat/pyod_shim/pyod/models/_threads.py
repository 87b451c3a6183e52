import warnings

from mercato import ParameterWarning


def num_threads(n_jobs):
    """PyOD's ``n_jobs`` (1 = one thread, -1 = all cores) as mercato's ``num_threads``."""
    return None if n_jobs is None or n_jobs < 0 else n_jobs


def dropped(cls, given, defaults):
    """Warns (``mercato.ParameterWarning``) about PyOD arguments that mercato has no use for
    when they differ from PyOD's defaults: they are never dropped silently."""
    ignored = sorted(k for k, v in given.items() if v is not defaults[k] and v != defaults[k])
    if ignored:
        warnings.warn(f"{cls}: {', '.join(ignored)} ignored by mercato", ParameterWarning, stacklevel=3)

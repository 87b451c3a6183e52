def num_threads(n_jobs):
    """PyOD's ``n_jobs`` (1 = one thread, -1 = all cores) as mercato's ``num_threads``."""
    return None if n_jobs is None or n_jobs < 0 else n_jobs

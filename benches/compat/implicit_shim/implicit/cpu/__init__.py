from . import als  # noqa: F401

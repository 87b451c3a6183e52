"""implicit.utils: the warning class implicit's tests expect."""

from mercato import ParameterWarning  # noqa: F401

"""The figures of a report (matplotlib). Every plot takes ``ax=None`` and returns the figure."""

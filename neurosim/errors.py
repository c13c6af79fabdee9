"""Exceptions that carry the place and the reason. The CLI prints ``str(exc)`` as one line and
exits with code 2; nothing here is raised with ``assert``."""


class NeurosimError(Exception):
    """Base class: a user-facing error whose message names the place and the reason."""


class ConfigError(NeurosimError, ValueError):
    """A hardware or mapping description is malformed: ``file:line: key.path: reason``."""

    def __init__(self, reason: str, *, file: str | None = None, line: int | None = None, key: str | None = None):
        self.reason, self.file, self.line, self.key = reason, file, line, key
        place = ""
        if file:
            place = f"{file}:{line}" if line else f"{file}"
        if key:
            place = f"{place}: {key}" if place else key
        super().__init__(f"{place}: {reason}" if place else reason)


class NetworkError(NeurosimError, ValueError):
    """A network (NIR file or in-code description) is unsupported or inconsistent."""


class MappingError(NeurosimError, ValueError):
    """A mapping is infeasible (capacity) or inconsistent with the network or hardware."""


class SimulationError(NeurosimError, RuntimeError):
    """A run violated an invariant (for example a conservation check)."""

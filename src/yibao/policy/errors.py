"""Typed errors of the parameter layer."""

from __future__ import annotations

from pathlib import PurePath


class ParameterError(ValueError):
    """A parameter file or overlay is wrong: names the file, the parameter path and the reason."""

    def __init__(self, file: str, path: str, reason: str) -> None:
        self.file = file
        self.path = path
        self.reason = reason
        where = f"{file}: {path}" if path else file
        super().__init__(f"{where}: {reason}")

    @property
    def public(self) -> str:
        """The message as shown to a caller: the file's name, not the folder the server keeps
        it in."""
        return ": ".join(p for p in (PurePath(self.file).name, self.path, self.reason) if p)


class UnknownRegion(ParameterError):
    def __init__(self, region: str, folder: str) -> None:
        super().__init__(folder, "region", f"unknown region {region!r}")

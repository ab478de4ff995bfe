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

    def public(self) -> str:
        """The message with the file's name only (no folder of the server's): for API answers."""
        name = self.file if self.file.startswith("<") else PurePath(self.file).name
        return f"{name}: {self.path}: {self.reason}" if self.path else f"{name}: {self.reason}"


class UnknownRegion(ParameterError):
    def __init__(self, region: str, folder: str) -> None:
        super().__init__(folder, "region", f"unknown region {region!r}")

    def public(self) -> str:
        return f"region: {self.reason}"

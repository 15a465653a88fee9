"""The error tree the CLI catches once (exit 2 for bad input, 1 otherwise)."""


class KwsError(Exception):
    """Base of every error kwsapp reports to a user as ``type: message``."""

    exit_code = 1


class BadInputError(KwsError):
    """The user's input (a file, a folder, an argument) cannot be used."""

    exit_code = 2


class MissingExtraError(KwsError):
    """An optional part (the ``gui`` or ``train`` extra) is not installed."""

    exit_code = 2


class AudioFileError(BadInputError):
    """An audio file is missing, empty, truncated or not audio."""

    def __init__(self, path: object, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = str(path)
        self.problem = problem


class ModelError(BadInputError):
    """A model artifact is missing, incomplete or does not match its card."""


class DeviceError(KwsError):
    """No usable audio input device, or the device failed."""

    exit_code = 2


class DiskFullError(KwsError):
    """No space left where a file (a checkpoint, an artifact) is written."""


class Cancelled(KwsError):
    """Work the user stopped (files being classified, the window closing)."""

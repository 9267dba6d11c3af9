"""Errors that reach the user as one clear line (the CLI prints them and exits with status 2)."""


class TaggerError(Exception):
    """A problem with the user's input, config or files; the message is shown as is."""


class DataError(TaggerError):
    """Malformed data; the message names the file and line."""

    def __init__(self, path: str, line: int | None, message: str) -> None:
        where = f"{path}:{line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path, self.line = path, line

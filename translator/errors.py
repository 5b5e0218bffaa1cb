"""The one error type users see: names the input file and the pipeline element."""
from __future__ import annotations


class TranslateError(Exception):
    """Bad input or an unsupported construct. Rendered as one line by the CLI (exit status 2)."""

    def __init__(self, message: str, *, file: str | None = None, element: str | None = None):
        super().__init__(message)
        self.message = message
        self.file = file
        self.element = element

    def with_file(self, file: str) -> "TranslateError":
        if self.file is None:
            self.file = file
        return self

    def __str__(self) -> str:
        parts = [p for p in (self.file, self.element) if p]
        where = ": ".join(parts)
        text = " ".join(self.message.split())  # always one line
        return f"{where}: {text}" if where else text


class InternalValidationError(TranslateError):
    """A manifest we generated failed validation: a bug in kfp-translate, never written out."""

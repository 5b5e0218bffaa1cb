"""Write a manifest where `-o` says: `-` is stdout; a symlink is written through, never replaced;
a character device or FIFO is written to as a stream; a regular file is replaced atomically (a
temporary file beside it, then a rename) keeping its mode, or created with the mode the umask
gives (0644 under the usual 022); missing parent folders are created. Failures are one line."""
from __future__ import annotations

import os
import stat
import sys
import tempfile

from .errors import TranslateError


_STREAMS = ("/dev/", "/proc/")  # /dev/stdout, /dev/fd/N: the caller's open file, written in place


def _is_stdout(path: str) -> bool:
    """`-o /dev/stdout` writes to our stdout as it is open (appending stays appending)."""
    if not os.path.abspath(path).startswith(_STREAMS):
        return False
    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):
        return False


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_output(path: str, text: str) -> None:
    if path == "-" or _is_stdout(path):
        sys.stdout.write(text)
        sys.stdout.flush()
        return
    try:
        st = os.stat(path)  # through symlinks, as a shell redirection writes
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise TranslateError(f"cannot write the output: {exc.strerror}", file=path) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise TranslateError("is a folder: give a file name for -o (e.g. workflow.yaml inside it)", file=path)
    try:
        if st is not None and (not stat.S_ISREG(st.st_mode) or os.path.abspath(path).startswith(_STREAMS)):
            with open(path, "w", encoding="utf-8") as fh:  # /dev/stdout, a pipe, a terminal
                fh.write(text)
            return
        _replace(os.path.realpath(path), text, st)
    except OSError as exc:
        raise TranslateError(f"cannot write the output: {exc.strerror or exc}", file=path) from None


def _replace(target: str, text: str, st: os.stat_result | None) -> None:
    directory = os.path.dirname(target)
    os.makedirs(directory, exist_ok=True)
    data = text.encode("utf-8")
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".translate-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            if st is not None:
                os.fchmod(fh.fileno(), stat.S_IMODE(st.st_mode))
                try:
                    os.fchown(fh.fileno(), st.st_uid, st.st_gid)
                except PermissionError:
                    pass  # not ours to give away: the file becomes the writer's, as with any rewrite
            else:
                os.fchmod(fh.fileno(), 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise

"""Quiet builds: TensorFlow's native logging off, progress on stderr, stdout left alone.

TensorFlow's C++ side logs through absl straight to file descriptor 2, and some of its
lines (``WARNING: All log messages before absl::InitializeLog() ...``, ``I0000 ... port.cc``
oneDNN notes, ``E0000 ... node_def_util.cc:682] NodeDef mentions attribute
use_unbounded_threadpool``) are written before ``TF_CPP_MIN_LOG_LEVEL`` is honoured, so
the variable alone does not silence them (measured with TF 2.21). ``quiet_native_logs``
therefore also routes fd 2 through a filter thread that drops lines in absl's native
format and passes everything else through; Python's own stderr (tqdm bars, logging) is
pointed at the real stderr, so bars are never held back by the filter.

With ``verbose`` nothing is changed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import sys
import threading
from collections.abc import Iterator

# absl/glog native lines: "E0000 00:00:1795698833.912537    1824 port.cc:153] ..." (before
# absl::InitializeLog the time is raw seconds) or "W1126 13:15:12.645000  1824 x.cc:7] ..."
NATIVE_LINE = re.compile(rb"^(?:[IWEF]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ [^ \]]+:\d+\]"
                         rb"|WARNING: All log messages before absl::InitializeLog\(\))")


def silence_tensorflow_env() -> None:
    """Ask TensorFlow for errors only (before it is imported), and absl/Python loggers too."""
    os.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"
    for name in ("tensorflow", "absl", "keras"):
        logging.getLogger(name).setLevel(logging.ERROR)
    with contextlib.suppress(ImportError):
        from absl import logging as absl_logging

        absl_logging.set_verbosity(absl_logging.ERROR)


def filter_native(chunks: bytes) -> bytes:
    """``chunks`` (whole lines) without the native log lines."""
    return b"".join(line for line in chunks.splitlines(keepends=True)
                    if not NATIVE_LINE.match(line))


@contextlib.contextmanager
def quiet_native_logs(verbose: bool = False) -> Iterator[None]:
    """Silence TensorFlow's native logging for the duration (see the module docstring)."""
    if verbose:
        yield
        return
    silence_tensorflow_env()
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real fd 2 (embedded, odd test runners)
        yield
        return
    read_end, write_end = os.pipe()
    os.dup2(write_end, 2)
    os.close(write_end)
    real_stderr = os.fdopen(os.dup(saved), "w", buffering=1, encoding="utf-8",
                            errors="backslashreplace")
    old_stderr = sys.stderr
    sys.stderr = real_stderr
    handlers = [h for h in logging.getLogger().handlers
                if isinstance(h, logging.StreamHandler) and h.stream is old_stderr]
    for handler in handlers:
        handler.setStream(real_stderr)

    def pump() -> None:
        pending = b""
        while True:
            chunk = os.read(read_end, 65536)
            if not chunk:
                break
            pending += chunk
            whole, _, pending = pending.rpartition(b"\n")
            if whole:
                os.write(saved, filter_native(whole + b"\n"))
        if pending:
            os.write(saved, filter_native(pending))

    thread = threading.Thread(target=pump, name="native-log-filter", daemon=True)
    thread.start()
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            real_stderr.flush()
        os.dup2(saved, 2)  # closes the pipe's last write end: the pump drains and ends
        thread.join(timeout=5)
        os.close(read_end)
        for handler in handlers:
            handler.setStream(old_stderr)
        sys.stderr = old_stderr
        real_stderr.close()
        os.close(saved)

"""What every job shares: its result, how a run is recorded, and the lock it holds.

``record_job_run`` is the one place a job's outcome is written: one machine-readable log
line, and a row in the store's ``job_runs`` when there is a store. ``JobLock`` is held by
every training job, so two schedulers (or a scheduler and a cron job) never train at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from engine.errors import MovieBotError

log = logging.getLogger("moviebot.jobs")

LOCK_FILE = ".jobs.lock"


@dataclass
class JobResult:
    name: str
    status: str                 # published | rejected | unchanged | skipped | failed | ok
    version: str | None = None  # the version serving after the job
    candidate: str | None = None
    reasons: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


async def record_job_run(store: Any, result: JobResult) -> None:
    """Store ``result`` if there is a store (the full record: reasons, compared metrics,
    the candidate's metrics), and log it as one JSON line at DEBUG (the readable decision
    line is the job's own); a database outage is logged, never raised."""
    log.debug("job_run %s", json.dumps(result.to_dict(), default=str, sort_keys=True))
    if store is None:
        return
    try:
        await store.record_job_run(result.name, result.status, result.to_dict())
    except Exception:
        log.exception("could not record job run %s", result.name)


class JobLocked(MovieBotError):
    def __init__(self, path: Path, holder: str):
        super().__init__(path, holder)
        self.path, self.holder = path, holder

    def __str__(self) -> str:
        return (f"another job is already running ({self.holder or 'unknown holder'}; "
                f"lock {self.path}); try again when it has finished")


class JobLock:
    """An exclusive ``fcntl`` lock on a file next to the artifacts.

    The kernel drops it when the holder exits, even on ``kill -9``, so a crashed job
    never blocks the next one. The file says who holds it, for the error message.
    Not reentrant: a job must not take it twice.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)

    @classmethod
    def for_artifacts(cls, root: str | Path) -> JobLock:
        return cls(Path(root) / LOCK_FILE)

    @contextlib.contextmanager
    def hold(self, job: str) -> Iterator[None]:
        """Hold the lock for ``job`` or raise ``JobLocked`` at once."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 4096, 0).decode(errors="replace").strip()
                raise JobLocked(self.path, holder) from None
            info = json.dumps({"job": job, "pid": os.getpid(),
                               "since": datetime.now(UTC).isoformat(timespec="seconds")})
            os.ftruncate(fd, 0)
            os.pwrite(fd, info.encode(), 0)
            try:
                yield
            finally:
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    def is_held(self) -> bool:
        try:
            with self.hold("probe"):
                return False
        except JobLocked:
            return True

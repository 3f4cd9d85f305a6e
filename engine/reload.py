"""`EngineHolder`: serve the published version, and swap to a new one without a restart.

A job publishes by moving the ``current`` symlink (``engine.artifacts.publish``); nothing
inside a version directory is ever rewritten, so memory-mapped Annoy files stay valid.
The holder notices the move, loads the new version *beside* the old one in a background
thread (loading every component, so the first request on it is not slow and nothing is
read lazily from a directory a later prune may delete), and then replaces one
reference. A request holds the engine it started with until it finishes, so nothing
in flight fails; the old engine is freed (and its maps closed) when the last such
request drops it. A version that fails to load is logged and skipped: the old one
keeps serving.

    holder = EngineHolder(settings.artifacts)
    layer = CommandLayer(holder)          # holder() -> the Engine to use for this request
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from .artifacts import current_version
from .components import COMPONENTS
from .engine import Engine

log = logging.getLogger("moviebot.reload")


def load_warm(version_dir: Path) -> Engine:
    """Load a version and all of its serving components now rather than on first use,
    the catalog's title index included (built lazily otherwise: /song never needs it)."""
    engine = Engine.load(version_dir)
    engine.catalog.titles  # noqa: B018 (built on first access)
    for spec in COMPONENTS:
        if engine.has(spec.name):
            engine.recommender(spec.name)
    engine.catalog.complete("")     # the title-completion index (autocomplete, inline mode)
    return engine


class EngineHolder:
    """The engine to answer with right now; ``holder()`` returns it.

    ``check_every`` bounds how often a request looks at the ``current`` link (one
    ``readlink``); the load itself runs in a background thread, so no request waits for
    it. ``loader`` turns a version directory into an Engine (default: ``load_warm``);
    ``after_swap`` runs in that thread once a new version serves (bots pass
    ``heap.freeze_long_lived``).
    """

    def __init__(self, root: str | Path, *, check_every: float = 5.0,
                 loader: Callable[[Path], Engine] = load_warm,
                 after_swap: Callable[[], object] | None = None):
        self.root = Path(root)
        self.check_every = check_every
        self.loader = loader
        self.after_swap = after_swap
        self._engine = loader(current_version(self.root))
        self._lock = threading.Lock()          # guards starting the background thread
        self._reload_lock = threading.Lock()   # one load at a time
        self._loading: threading.Thread | None = None
        self._failed: Path | None = None       # a version that would not load: not retried
        self._next_check = time.monotonic() + check_every
        self.swaps = 0
        log.info("serving engine version %s", self._engine.version)

    @property
    def engine(self) -> Engine:
        return self._engine

    @property
    def version(self) -> str:
        return self._engine.version

    def __call__(self) -> Engine:
        """The engine for one request; may start a reload in the background."""
        now = time.monotonic()
        if now >= self._next_check:
            self._next_check = now + self.check_every
            if self._published() not in (self._engine.version_dir, self._failed):
                self._start_background_reload()
        return self._engine

    def _published(self) -> Path | None:
        try:
            return current_version(self.root)
        except Exception:  # mid-publish or a broken link: keep what we have
            return None

    def _start_background_reload(self) -> None:
        with self._lock:
            if self._loading is not None and self._loading.is_alive():
                return
            self._loading = threading.Thread(target=self.reload, name="engine-reload",
                                             daemon=True)
            self._loading.start()

    def reload(self) -> bool:
        """Load the published version if it is not the one served; True if swapped.

        Blocking; requests keep using the old engine meanwhile.
        """
        with self._reload_lock:
            return self._reload()

    def _reload(self) -> bool:
        target = self._published()
        if target is None or target in (self._engine.version_dir, self._failed):
            return False
        started = time.perf_counter()
        try:
            engine = self.loader(target)
        except Exception:
            log.exception("could not load version %s; still serving %s", target.name,
                          self._engine.version)
            self._failed = target
            return False
        old, self._engine = self._engine, engine   # the swap: one reference assignment
        self.swaps += 1
        log.info("engine reloaded: %s -> %s in %.2fs", old.version, engine.version,
                 time.perf_counter() - started)
        del old
        if self.after_swap is not None:
            self.after_swap()
        return True

    def wait_for_reload(self, timeout: float | None = None) -> None:
        """Wait for a background load to finish (tests, shutdown)."""
        loading = self._loading
        if loading is not None:
            loading.join(timeout)

    async def watch(self, interval: float = 5.0) -> None:
        """Background task for bots: reload as soon as a publish happens, even when idle."""
        while True:
            await asyncio.sleep(interval)
            if self._published() not in (self._engine.version_dir, self._failed):
                await asyncio.to_thread(self.reload)


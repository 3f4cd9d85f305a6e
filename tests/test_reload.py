"""Hot reload: queries run non-stop while new versions are published and old ones pruned."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import threading
import time
from pathlib import Path

import pytest

from engine import artifacts
from engine.queries import HistoryQuery, MovieQuery
from engine.reload import EngineHolder

pytestmark = pytest.mark.slow
_serial = itertools.count()


def clone_version(src: Path, root: Path, tag: str, replace: dict[str, bytes] | None = None) -> Path:
    """A new version dir sharing ``src``'s files by hard link (as `run_build(only=...)`
    does); files in ``replace`` get new content in new inodes, never the shared ones."""
    dst = root / f"v{time.strftime('%Y%m%dT%H%M%S')}-{next(_serial):04d}{tag}"  # sorts in order
    dst.mkdir(parents=True)
    for path in src.rglob("*"):
        rel = path.relative_to(src)
        if path.is_dir() or rel.name == artifacts.MANIFEST:
            continue
        (dst / rel).parent.mkdir(parents=True, exist_ok=True)
        if replace and str(rel) in replace:
            (dst / rel).write_bytes(replace[str(rel)])
        else:
            os.link(path, dst / rel)
    manifest = artifacts.read_manifest(src)
    manifest["version"] = dst.name
    artifacts.write_manifest(dst, manifest)
    return dst


@pytest.fixture
def root(tmp_path, quick_artifacts) -> Path:
    """A private artifacts root holding a copy of the session's quick build."""
    root = tmp_path / "artifacts"
    first = clone_version(artifacts.current_version(quick_artifacts), root, "-a")
    artifacts.publish(root, first)
    return root


def queries(engine) -> None:
    """One request of each kind a bot makes."""
    assert engine.search("toy story", 3)
    assert engine.movie(1).title
    assert engine.recommend("content", MovieQuery(engine.movie(1)), k=5).results
    history = HistoryQuery(((1, "like"), (260, "like"), (296, 4.5)))
    assert engine.recommend("collab", history, k=5).results


def wait_until(predicate, errors=(), timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if errors:
            raise errors[0]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_threads_query_through_publish_and_prune(root):
    holder = EngineHolder(root, check_every=0.0)
    first = holder.version
    errors: list[BaseException] = []
    served: dict[str, int] = {}
    stop = threading.Event()

    def client() -> None:
        while not stop.is_set():
            try:
                engine = holder()
                queries(engine)
                served[engine.version] = served.get(engine.version, 0) + 1
            except BaseException as exc:  # any failure is the test failing
                errors.append(exc)
                return

    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        wait_until(lambda: served.get(first, 0) >= 5, errors)
        second = clone_version(holder.engine.version_dir, root, "-b")
        artifacts.publish(root, second)
        wait_until(lambda: served.get(second.name, 0) >= 5, errors)
        third = clone_version(second, root, "-c")
        artifacts.publish(root, third)
        # delete the older versions while requests may still hold their engines
        artifacts.prune(root, keep=1)
        wait_until(lambda: served.get(third.name, 0) >= 5, errors)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert not errors, errors[0]
    assert holder.swaps == 2
    assert [p.name for p in artifacts.list_versions(root)] == [third.name]
    assert set(served) <= {first, second.name, third.name}


def test_a_broken_version_is_skipped(root, caplog):
    holder = EngineHolder(root, check_every=0.0)
    good = holder.version
    broken = clone_version(holder.engine.version_dir, root, "-broken",
                           replace={"catalog.parquet": b"not parquet"})
    artifacts.publish(root, broken)
    assert not holder.reload()
    assert holder.version == good
    assert "could not load version" in caplog.text
    queries(holder())           # requests go on; their check does not retry the broken one
    holder.wait_for_reload(30)
    assert holder.version == good and holder._loading is None
    # the next good publish is picked up
    fixed = clone_version(artifacts.current_version(root).parent / good, root, "-fixed")
    artifacts.publish(root, fixed)
    assert holder.reload() and holder.version == fixed.name


async def test_async_bot_keeps_answering_during_publish(root):
    holder = EngineHolder(root, check_every=3600)  # only the watcher notices the publish
    watcher = asyncio.create_task(holder.watch(interval=0.05))
    old = holder.version
    answered: list[str] = []

    async def request() -> None:
        engine = holder()
        await asyncio.to_thread(queries, engine)
        answered.append(engine.version)

    async def traffic(stop: asyncio.Event) -> None:
        while not stop.is_set():
            await asyncio.gather(*[request() for _ in range(4)])

    stop = asyncio.Event()
    running = asyncio.create_task(traffic(stop))
    try:
        await asyncio.sleep(0.2)
        new = clone_version(holder.engine.version_dir, root, "-next")
        artifacts.publish(root, new)
        for _ in range(2400):
            if answered and answered[-1] == new.name:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await running
        watcher.cancel()
    assert answered[0] == old and answered[-1] == new.name
    shutil.rmtree(root, ignore_errors=True)


class _Cycle:
    """Stands for the reference cycles a loaded version holds (caches, back-references)."""

    def __init__(self):
        self.me = self


def test_a_swapped_out_engine_is_freed_although_the_heap_was_frozen(root):
    # `moviebot serve` freezes the heap after start-up and after each swap
    # (engine/heap.py). Frozen objects are never collected, so without the thaw in
    # `freeze_long_lived` an old version's reference cycles would stay in memory for good.
    import gc
    import weakref

    from engine.heap import freeze_long_lived

    holder = EngineHolder(root, check_every=3600, after_swap=freeze_long_lived)
    try:
        holder.engine.cycle = _Cycle()
        first, cycle = weakref.ref(holder.engine), weakref.ref(holder.engine.cycle)
        assert freeze_long_lived() > 0
        queries(holder.engine)
        artifacts.publish(root, clone_version(holder.engine.version_dir, root, "-next"))
        assert holder.reload()
        assert first() is None and cycle() is None
        assert gc.get_freeze_count() > 0          # the new version is frozen in its place
        queries(holder())
    finally:
        gc.unfreeze()

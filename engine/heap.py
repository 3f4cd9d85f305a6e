"""Keep the garbage collector's full passes off a bot's long-lived objects.

A serving process holds ~200k container objects that live as long as it does: the
loaded engine (title index, catalog) and the modules of PTB or discord.py, SQLAlchemy
and pandas. Every full (generation-2) collection walks all of them: a 40-100 ms pause in
the middle of answering, measured in benchmarks/bench_telegram.py. Moving what is alive
after start-up into the permanent generation (``gc.freeze``) leaves full collections
only what requests allocate. After an engine swap the process thaws first, so one
collection frees the reference cycles of versions swapped out earlier, then freezes again.
"""

from __future__ import annotations

import gc


def freeze_long_lived() -> int:
    """Collect, then freeze everything alive; returns how many objects are frozen."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()
    return gc.get_freeze_count()

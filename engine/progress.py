"""Training progress on stderr: one tqdm bar per training run, advanced once per epoch.

Keras' own progress output (``verbose=1``) writes ANSI-coded bars to stdout, which mixes
into whatever reads it (``make run`` starts the chat on the same stdout); trainers run
Keras with ``verbose=0`` and advance an ``EpochBar`` instead. Imports nothing heavy:
the Keras callback class is built from the ``keras`` module the trainer already holds.
"""

from __future__ import annotations

import sys
from typing import Any


class EpochBar:
    """A tqdm bar over ``epochs`` on stderr; ``disable=None`` shows it only on a terminal."""

    def __init__(self, epochs: int, desc: str, disable: bool | None = None):
        from tqdm import tqdm

        self.bar = tqdm(total=epochs, desc=desc, unit="epoch", file=sys.stderr, leave=False,
                        disable=disable, dynamic_ncols=True)

    def update(self, logs: dict[str, Any] | None = None) -> None:
        if logs:
            self.bar.set_postfix({k: f"{v:.4f}" for k, v in logs.items()
                                  if isinstance(v, int | float)}, refresh=False)
        self.bar.update(1)

    def callback(self, keras: Any) -> Any:
        """A Keras callback that advances this bar at the end of each epoch."""
        owner = self

        class _Advance(keras.callbacks.Callback):
            def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
                owner.update(logs)

        return _Advance()

    def close(self) -> None:
        self.bar.close()

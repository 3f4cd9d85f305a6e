"""The engine's settings from environment variables (and an optional `.env` file).

The same names are used by the CLI, the bots, the jobs and the Dockerfile. Only the data
and artifacts directories live here; the bots' settings are in bot/settings.py.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data" / "raw"


def _load_dotenv() -> None:
    try:
        from dotenv import load_dotenv
    except ImportError:  # pragma: no cover - python-dotenv is a core dependency
        return
    load_dotenv(os.environ.get("MOVIEBOT_ENV_FILE", ".env"), override=False)


def data_dir_candidates() -> list[Path]:
    """Where the raw data is looked for when MOVIEBOT_DATA_DIR / --data-dir is not set, in order:
    the checkout's own `data/raw`, then the shared data beside the checkout (as on CI)."""
    return [PROJECT_ROOT / "data" / "raw", PROJECT_ROOT.parent / "shared" / "data"]


def missing_required(data_dir: Path, manifest=None) -> list[str]:
    """The manifest's required files (MovieLens, the songs) that ``data_dir`` lacks."""
    from engine.datasets.manifest import load_manifest  # the manifest module imports this one

    manifest = manifest or load_manifest()
    return [f.path for f in manifest.files() if f.required and not (data_dir / f.path).is_file()]


@dataclass(frozen=True)
class DataDirSearch:
    """Which data directory was chosen, and what each candidate looked like."""

    chosen: Path
    complete: bool
    looked: tuple[tuple[Path, str], ...]  # (candidate, "complete" | what is wrong with it)

    def describe(self) -> str:
        """One line per location looked at, for error messages."""
        return "\n".join(f"  {path}: {state}" for path, state in self.looked)


def search_data_dir(candidates: list[Path] | None = None, manifest=None) -> DataDirSearch:
    """The first complete candidate (every required manifest file present).

    An empty or partial directory (a failed fetch) never hides a complete one further down
    the list. When none is complete, the first candidate is chosen: that is where
    `moviebot data fetch` puts the files.
    """
    candidates = [Path(c) for c in (candidates or data_dir_candidates())]
    looked: list[tuple[Path, str]] = []
    for path in candidates:
        if not path.is_dir():
            looked.append((path, "does not exist"))
            continue
        try:
            missing = missing_required(path, manifest)
        except Exception as exc:  # noqa: BLE001 - a broken manifest must not break settings
            looked.append((path, f"not checked ({exc})"))
            continue
        if not missing:
            looked.append((path, "complete"))
            return DataDirSearch(path, True, tuple(looked))
        looked.append((path, f"{len(missing)} required file(s) missing, e.g. {missing[0]}"))
    return DataDirSearch(candidates[0], False, tuple(looked))


def _default_data_dir() -> Path:
    return search_data_dir().chosen


@dataclass
class Settings:
    """What the engine needs: where the raw data and the built artifacts are.

    Front-end settings (tokens, the feedback database, admins) are ``bot.settings.BotSettings``,
    which extends this class; the engine never sees them.
    """

    data_dir: Path = field(default_factory=_default_data_dir)
    artifacts: Path = PROJECT_ROOT / "data" / "artifacts"

    @classmethod
    def env_values(cls) -> dict:
        """The fields set in the environment (after loading `.env`)."""
        _load_dotenv()
        values: dict = {}
        if os.environ.get("MOVIEBOT_DATA_DIR"):
            values["data_dir"] = Path(os.environ["MOVIEBOT_DATA_DIR"]).expanduser()
        if os.environ.get("MOVIEBOT_ARTIFACTS"):
            values["artifacts"] = Path(os.environ["MOVIEBOT_ARTIFACTS"]).expanduser()
        return values

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        """The environment's values; ``overrides`` that are not None win (CLI options)."""
        values = cls.env_values()
        values.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("data_dir", "artifacts"):  # CLI options arrive as strings
            if key in values:
                values[key] = Path(values[key]).expanduser()
        return cls(**values)


def _mask_url(url: str) -> str:
    """A database URL with its password hidden, for log lines and error messages."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url

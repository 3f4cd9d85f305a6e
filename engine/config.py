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


def _default_data_dir() -> Path:
    # A checkout with the shared data beside it (as on CI) works without configuration.
    shared = PROJECT_ROOT.parent / "shared" / "data"
    if not DEFAULT_DATA_DIR.exists() and (shared / "movielens").is_dir():
        return shared
    return DEFAULT_DATA_DIR


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

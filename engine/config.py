"""Settings from environment variables (and an optional `.env` file).

The same names are used by the CLI, the bots, the jobs and the Dockerfile.
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
    data_dir: Path = field(default_factory=_default_data_dir)
    artifacts: Path = PROJECT_ROOT / "data" / "artifacts"
    database_url: str = ""
    # PostgreSQL only: keep moviebot's tables in this schema (a database shared with other
    # applications; the tests use a fresh one per run). Empty: the server's default.
    database_schema: str = ""
    telegram_token: str = ""
    telegram_api_base_url: str = ""
    discord_token: str = ""
    tmdb_api_key: str = ""
    admins: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.database_url:
            self.database_url = f"sqlite:///{PROJECT_ROOT / 'data' / 'moviebot.db'}"

    @classmethod
    def from_env(cls, **overrides) -> Settings:
        _load_dotenv()
        env = os.environ
        values: dict = {}
        if env.get("MOVIEBOT_DATA_DIR"):
            values["data_dir"] = Path(env["MOVIEBOT_DATA_DIR"]).expanduser()
        if env.get("MOVIEBOT_ARTIFACTS"):
            values["artifacts"] = Path(env["MOVIEBOT_ARTIFACTS"]).expanduser()
        values["database_url"] = env.get("DATABASE_URL", "")
        values["database_schema"] = env.get("MOVIEBOT_DB_SCHEMA", "")
        values["telegram_token"] = env.get("TELEGRAM_BOT_TOKEN", "")
        values["telegram_api_base_url"] = env.get("TELEGRAM_API_BASE_URL", "")
        values["discord_token"] = env.get("DISCORD_BOT_TOKEN", "")
        values["tmdb_api_key"] = env.get("TMDB_API_KEY", "")
        admins = env.get("MOVIEBOT_ADMINS", "")
        values["admins"] = frozenset(a.strip() for a in admins.split(",") if a.strip())
        values.update({k: v for k, v in overrides.items() if v is not None})
        for key in ("data_dir", "artifacts"):  # CLI options arrive as strings
            values[key] = Path(values[key]).expanduser() if key in values else None
        return cls(**{k: v for k, v in values.items() if v is not None})

    def __repr__(self) -> str:  # tokens must never reach a log line
        return (
            f"Settings(data_dir={str(self.data_dir)!r}, artifacts={str(self.artifacts)!r}, "
            f"database_url={_mask_url(self.database_url)!r}, telegram={'set' if self.telegram_token else 'unset'}, "
            f"discord={'set' if self.discord_token else 'unset'}, tmdb={'set' if self.tmdb_api_key else 'unset'})"
        )


def _mask_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}"
    return url

"""`BotSettings`: everything a bot process reads from the environment, in one typed place.

It extends the engine's `Settings` (data and artifacts directories) with the front-ends'
own values: tokens, the feedback database, admins, webhook and API endpoints, the spool.
`BotSettings.from_env()` is the only reader of these variables; the values are passed down
from there (the serve command, the jobs), never read from ``os.environ`` deeper inside.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import quote_plus

from engine.config import PROJECT_ROOT, Settings, _mask_url
from engine.errors import MovieBotError

from .countries import country_code

# field -> environment variable (all strings; empty when unset)
ENV = {
    "database_url": "DATABASE_URL",
    # PostgreSQL only: keep moviebot's tables in this schema (a database shared with other
    # applications; the tests use a fresh one per run). Empty: the server's default.
    "database_schema": "MOVIEBOT_DB_SCHEMA",
    "telegram_token": "TELEGRAM_BOT_TOKEN",
    "telegram_api_base_url": "TELEGRAM_API_BASE_URL",
    "telegram_webhook_url": "TELEGRAM_WEBHOOK_URL",
    "telegram_webhook_secret": "TELEGRAM_WEBHOOK_SECRET",
    "discord_token": "DISCORD_BOT_TOKEN",
    "discord_api_base_url": "DISCORD_API_BASE_URL",
    "discord_gateway_url": "DISCORD_GATEWAY_URL",
    "tmdb_api_key": "TMDB_API_KEY",
    "tmdb_api_base_url": "TMDB_API_BASE_URL",
    # where-to-watch country for users who set none and whose platform gives no locale
    "default_country": "MOVIEBOT_DEFAULT_COUNTRY",
    "spool": "MOVIEBOT_SPOOL",
}
DEFAULT_COUNTRY = "US"
TMDB_API_BASE_URL = "https://api.themoviedb.org/3"
ADMIN_PLATFORMS = ("telegram", "discord", "console")


def _url_password(url: str) -> str:
    from urllib.parse import unquote, urlsplit

    try:
        password = urlsplit(url).password
    except ValueError:
        return ""
    return unquote(password) if password else ""


def env_secrets() -> list[str]:
    """The secrets set in the environment, read even where the settings are invalid (a bad
    MOVIEBOT_ADMINS must not stop the logs from being redacted)."""
    env = os.environ
    names = ("TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "TMDB_API_KEY", "TELEGRAM_WEBHOOK_SECRET")
    values = [env.get(name, "") for name in names]
    password = _url_password(env.get("DATABASE_URL", ""))
    values += [password, quote_plus(password)] if password else []
    return [v for v in values if v]


def parse_admins(text: str) -> frozenset[str]:
    """MOVIEBOT_ADMINS: "telegram:123,discord:456". A bare id is refused: the same number
    can be a different person on another platform, so it must say which one."""
    admins = set()
    for entry in (a.strip() for a in text.split(",")):
        if not entry:
            continue
        platform, _, user_id = entry.partition(":")
        if platform not in ADMIN_PLATFORMS or not user_id.strip():
            raise MovieBotError(
                f"MOVIEBOT_ADMINS entry “{entry}” must be platform:id, e.g. telegram:{entry} "
                f"(platforms: {', '.join(ADMIN_PLATFORMS)}); a bare id would make it an "
                f"admin on every platform.")
        admins.add(f"{platform}:{user_id.strip()}")
    return frozenset(admins)


def _seconds(variable: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 1 <= value <= 7 * 24 * 3600:
        raise MovieBotError(f"{variable} must be a number of seconds from 1 to 604800 "
                            f"(got “{text}”).")
    return value


@dataclass
class BotSettings(Settings):
    database_url: str = ""
    database_schema: str = ""
    telegram_token: str = ""
    telegram_api_base_url: str = ""
    telegram_webhook_url: str = ""
    telegram_webhook_secret: str = ""
    discord_token: str = ""
    discord_api_base_url: str = ""
    discord_gateway_url: str = ""
    tmdb_api_key: str = ""
    tmdb_api_base_url: str = TMDB_API_BASE_URL
    default_country: str = DEFAULT_COUNTRY   # ISO 3166-1 alpha-2 (bot/countries.py)
    spool: str = ""            # feedback buffer while the database is down ("": bot.store.spool.default_spool_path)
    port: int = 8443           # webhook port (PORT)
    admins: frozenset[str] = frozenset()  # MOVIEBOT_ADMINS: "telegram:123,discord:456"
    party_start_after: float = 600.0   # MOVIEBOT_PARTY_START_AFTER: a /party starts by itself (s)
    party_vote_time: float = 300.0     # MOVIEBOT_PARTY_VOTE_TIME: a party's vote closes by itself (s)

    def __post_init__(self) -> None:
        if not self.database_url:
            self.database_url = f"sqlite:///{PROJECT_ROOT / 'data' / 'moviebot.db'}"
        if not self.tmdb_api_base_url:
            self.tmdb_api_base_url = TMDB_API_BASE_URL
        code = country_code(self.default_country or DEFAULT_COUNTRY)
        if code is None:
            raise MovieBotError(f"MOVIEBOT_DEFAULT_COUNTRY “{self.default_country}” is not an "
                                "ISO 3166-1 alpha-2 country code (e.g. US, DE, GB).")
        self.default_country = code

    @classmethod
    def env_values(cls) -> dict:
        values = super().env_values()
        env = os.environ
        values.update({name: env.get(var, "") for name, var in ENV.items()})
        if env.get("PORT"):
            values["port"] = int(env["PORT"])
        values["admins"] = parse_admins(env.get("MOVIEBOT_ADMINS", ""))
        if env.get("MOVIEBOT_PARTY_START_AFTER"):
            values["party_start_after"] = _seconds("MOVIEBOT_PARTY_START_AFTER",
                                                   env["MOVIEBOT_PARTY_START_AFTER"])
        if env.get("MOVIEBOT_PARTY_VOTE_TIME"):
            values["party_vote_time"] = _seconds("MOVIEBOT_PARTY_VOTE_TIME",
                                                 env["MOVIEBOT_PARTY_VOTE_TIME"])
        return values

    @classmethod
    def from_env(cls, **overrides) -> BotSettings:
        return super().from_env(**overrides)  # type: ignore[return-value]

    def __repr__(self) -> str:  # tokens must never reach a log line
        return (
            f"BotSettings(data_dir={str(self.data_dir)!r}, artifacts={str(self.artifacts)!r}, "
            f"database_url={_mask_url(self.database_url)!r}, "
            f"telegram={'set' if self.telegram_token else 'unset'}, "
            f"discord={'set' if self.discord_token else 'unset'}, "
            f"tmdb={'set' if self.tmdb_api_key else 'unset'})"
        )


"""The README's environment table lists exactly the variables the code reads.

The code's side is `bot.settings.ENV` (the one settings source) plus every variable read
with ``os.environ`` / ``getenv`` / ``env.get`` in bot/, engine/ and jobs/ (the engine's
Settings, PORT, MOVIEBOT_ADMINS, the manifest, the .env file, TensorFlow threads...), so a
new variable fails here until the README documents it, and a removed one until its row goes.
"""

from __future__ import annotations

import re
from pathlib import Path

from bot.settings import ENV

ROOT = Path(__file__).resolve().parent.parent
# Read only by the test helpers, never by moviebot itself.
TEST_ONLY = {ROOT / "bot" / "store" / "testing.py"}
READS = [
    re.compile(r'(?:environ\.get|getenv|\benv\.get)\(\s*"([A-Z][A-Z0-9_]+)"'),
    re.compile(r'(?:environ|\benv)\[\s*"([A-Z][A-Z0-9_]+)"\s*\](?!\s*=[^=])'),
]


def documented() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^\| `([A-Z][A-Z0-9_]+)` \|", section, flags=re.M)


def read_by_the_code() -> set[str]:
    names = set(ENV.values())
    for folder in ("bot", "engine", "jobs"):
        for path in (ROOT / folder).rglob("*.py"):
            if path in TEST_ONLY:
                continue
            source = path.read_text(encoding="utf-8")
            for pattern in READS:
                names.update(pattern.findall(source))
    return names


def test_the_scan_finds_what_settings_read():
    found = read_by_the_code()
    assert {"DATABASE_URL", "PORT", "MOVIEBOT_ADMINS", "MOVIEBOT_DATA_DIR", "MOVIEBOT_ARTIFACTS",
            "MOVIEBOT_ENV_FILE", "MOVIEBOT_DATA_MANIFEST", "MOVIEBOT_TF_THREADS"} <= found
    assert "MOVIEBOT_TEST_POSTGRES_URL" not in found


def test_the_environment_table_is_complete_and_has_nothing_extra():
    rows = documented()
    assert len(rows) == len(set(rows)), "a variable is listed twice"
    code = read_by_the_code()
    assert sorted(code - set(rows)) == [], "read by the code but missing from README.md"
    assert sorted(set(rows) - code) == [], "in README.md but read nowhere"

"""Optional ``.env`` file for the entry points (manage.py, WSGI, Celery).

Values already in the environment win. The test suite does not read it, so a developer's
``.env`` never changes what the tests run against.
"""

from __future__ import annotations

from pathlib import Path

import dotenv


def load_dotenv() -> None:
    dotenv.load_dotenv(Path(__file__).resolve().parent.parent / ".env", override=False)

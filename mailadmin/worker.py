"""Entry point for Celery workers and beat: ``celery -A mailadmin.worker worker``."""

from mailadmin.dotenv import load_dotenv

load_dotenv()

from mailadmin.celery import app  # noqa: E402 - the environment must be complete first

__all__ = ["app"]

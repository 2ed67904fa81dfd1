"""WSGI entry point (gunicorn/uwsgi: ``mailadmin.wsgi:application``)."""

import os

from django.core.wsgi import get_wsgi_application

from mailadmin.dotenv import load_dotenv

load_dotenv()
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mailadmin.settings")
application = get_wsgi_application()

"""The WSGI entry point of a source checkout: ``flask --app app run`` and ``gunicorn app:app``
find ``app`` here; the installed package serves the same app as ``survey.wsgi:app``."""

from survey.wsgi import app

__all__ = ["app"]

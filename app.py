"""The WSGI entry point: ``flask --app app run`` and ``gunicorn app:app`` find ``app`` here."""

from survey import create_app

app = create_app()

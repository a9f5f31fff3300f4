"""gunicorn reads this file from the current directory: a source checkout serves with the
settings the package ships (survey/gunicorn_conf.py), so `gunicorn app:app` logs no client and
no access code. An installed wheel uses `gunicorn -c python:survey.gunicorn_conf`."""

from survey.gunicorn_conf import *  # noqa: F403

"""The packaged WSGI entry point: ``gunicorn survey.wsgi:app`` serves the installed wheel.

The instance folder is ``CANDOR_INSTANCE_PATH``, else ``instance/`` in the current directory.
"""

from __future__ import annotations

import gc
import logging

from . import config, create_app

app = create_app()
# Flask's own handler prints to stderr (gunicorn's error log), but only from WARNING unless a
# level is set; the start-up line is INFO.
if app.logger.level == logging.NOTSET:
    app.logger.setLevel(logging.INFO)
app.logger.info(
    "Candor (%s) started: instance %s, database %s",
    app.config["CANDOR_ENV"],
    app.instance_path,
    config.display_url(app.config["DATABASE_URL"]),
)
# What is loaded by now (the app, its templates, SQLAlchemy's mappers, the banks) lives as long
# as the process. Frozen, the collector never walks it again: otherwise a full collection
# in the middle of a request walks some 130,000 objects (70 ms on the 2-core machine of
# issue 14, about one in every 400 answers in a worker).
gc.collect()
gc.freeze()

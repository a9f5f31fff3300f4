"""Candor: anonymous pulse surveys. This module only assembles the app."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from . import config as config_module

PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
PROJECT_ROOT = os.path.dirname(PACKAGE_DIR)


def resource_folder(name: str) -> str:
    """Return the folder of ``templates`` or ``static``.

    The built wheel carries them inside the package; a source checkout keeps them at the top of
    the repository, next to ``survey/``.
    """
    packaged = os.path.join(PACKAGE_DIR, name)
    return packaged if os.path.isdir(packaged) else os.path.join(PROJECT_ROOT, name)


def default_instance_path(environ: Mapping[str, str]) -> str:
    """Return ``CANDOR_INSTANCE_PATH``, else ``instance/`` in the current directory.

    Never a folder beside the code: installed, that would be inside ``site-packages``.
    """
    return os.path.abspath(environ.get("CANDOR_INSTANCE_PATH") or "instance")


def create_app(test_config: Mapping[str, Any] | None = None, *, check_key: bool = True) -> Flask:
    """Return a configured Candor app.

    :param test_config: settings that override everything else (tests).
    :param check_key: refuse to build the app unless the secret key is safe, the schema is at
        the newest migration (:class:`survey.db.SchemaNotCurrent` names `candor migrate`) and
        the instance key opens this database's canary. The ``candor`` command builds the app
        without these checks so that ``candor init`` and ``candor migrate`` can do their work;
        its other commands check before work.
    """
    instance_path = (test_config or {}).get("INSTANCE_PATH") or default_instance_path(os.environ)
    app = Flask(
        __name__,
        instance_path=os.path.abspath(instance_path),
        instance_relative_config=True,
        template_folder=resource_folder("templates"),
        static_folder=resource_folder("static"),
    )
    app.config.from_mapping(config_module.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(config_module.from_environment(os.environ))
    if test_config:
        app.config.update(test_config)
    config_module.finish(app.config, app.instance_path)
    config_module.validate(app.config, require_secret=check_key)
    from .services import accounts

    accounts.configure_hashing(app.config["ARGON2_TIME_COST"], app.config["ARGON2_MEMORY_KIB"])

    from . import cli, db, logs
    from .web import register

    logs.init_app(app)
    db.init_app(app)
    if check_key:
        from .services.keys import check_instance_key

        # Serving on an old or missing schema would answer every page with a 500.
        db.require_current_schema(app.extensions["candor.engine"])
        app.extensions["candor.kek"] = check_instance_key(
            app.extensions["candor.engine"], app.config["KEY_FILE"]
        )
    register(app)
    cli.init_app(app)
    return app

"""Candor: anonymous pulse surveys. This module only assembles the app."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask

from . import config as config_module

PROJECT_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config: Mapping[str, Any] | None = None, *, check_key: bool = True) -> Flask:
    """Return a configured Candor app.

    :param test_config: settings that override everything else (tests).
    :param check_key: refuse to build the app unless the secret key is safe and the instance
        key opens this database's canary. The ``candor`` command builds the app without these
        checks so that ``candor init`` can create them; its other commands check before work.
    """
    instance_path = (test_config or {}).get("INSTANCE_PATH") or os.environ.get(
        "CANDOR_INSTANCE_PATH", os.path.join(PROJECT_ROOT, "instance")
    )
    app = Flask(
        __name__,
        instance_path=os.path.abspath(instance_path),
        instance_relative_config=True,
        template_folder=os.path.join(PROJECT_ROOT, "templates"),
        static_folder=os.path.join(PROJECT_ROOT, "static"),
    )
    app.config.from_mapping(config_module.DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.update(config_module.from_environment(os.environ))
    if test_config:
        app.config.update(test_config)
    config_module.finish(app.config, app.instance_path)
    config_module.validate(app.config, require_secret=check_key)

    from . import cli, db
    from .web import register

    db.init_app(app)
    if check_key:
        from .services.keys import check_instance_key

        app.extensions["candor.kek"] = check_instance_key(
            app.extensions["candor.engine"], app.config["KEY_FILE"]
        )
    register(app)
    cli.init_app(app)
    return app

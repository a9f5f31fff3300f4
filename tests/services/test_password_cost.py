"""Staff passwords are hashed at OWASP's Argon2id cost unless a test asks for less."""

from __future__ import annotations

from typing import Any

import pytest
from argon2 import extract_parameters

from survey import config as config_module
from survey import create_app
from survey.services import accounts


def test_default_cost_is_owasps_and_tests_go_cheaper(config: dict[str, Any]) -> None:
    cheap = accounts.HASHER.hash("a password long enough")
    assert extract_parameters(cheap).memory_cost == config["ARGON2_MEMORY_KIB"]
    production_cost = {k: v for k, v in config.items() if not k.startswith("ARGON2_")}
    create_app(production_cost)
    try:
        params = extract_parameters(accounts.HASHER.hash("a password long enough"))
        assert (params.time_cost, params.memory_cost, params.parallelism) == (2, 19 * 1024, 1)
        assert accounts.HASHER.verify(cheap, "a password long enough")  # old hashes still work
    finally:
        create_app(config)


@pytest.mark.parametrize(("time_cost", "memory"), [(1, 19 * 1024), (2, 1024)])
def test_production_refuses_cheap_hashing(time_cost: int, memory: int) -> None:
    settings = {
        **config_module.DEFAULTS,
        "ARGON2_TIME_COST": time_cost,
        "ARGON2_MEMORY_KIB": memory,
        "MAIL_BACKEND": "smtp",
    }
    with pytest.raises(config_module.ConfigError, match="OWASP"):
        config_module.refuse_unsafe_production(settings)

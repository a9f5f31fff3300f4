"""Single sign-on with OpenID Connect: discovery, the authorization-code flow (PKCE, state and
nonce), ID-token validation, and which staff account an identity logs in as.

Invariant: an identity logs in only as the account linked to its (issuer, subject), with the role
that its provider's role claim maps to *at this login*; an identity whose claim maps to no role
is refused, whatever account it has. An identity not linked yet is linked to the existing account
with its e-mail address only if the provider says it verified that address and the account has
no identity from this provider yet; with no such account, one is created (no password) because
the claim maps. An identity without a verified address is never linked or provisioned.

The provider is contacted only during a login (discovery and keys are cached per process), never
at import or start, so a provider that is down stops SSO logins with a clear message and nothing
else.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.requests_client import OAuth2Session
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import ClaimError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Role, SsoIdentity, User
from . import accounts

log = logging.getLogger(__name__)

# Clock skew tolerated between us and the provider when checking exp, iat and nbf.
CLOCK_LEEWAY_SECONDS = 60
# How long discovery metadata and signing keys are reused before they are fetched again
# (an unknown key id fetches the keys at once: the provider rotated them).
METADATA_TTL_SECONDS = 3600
# Only asymmetric signatures: "none" and HMAC (keyed with the client secret) are refused.
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384")
# When several claim values map to roles, the first role of this list wins.
ROLE_PRECEDENCE = (Role.ADMIN, Role.HR, Role.LEADER, Role.MANAGER)
# OpenID Connect Core 1.0, section 2: a subject is at most 255 ASCII characters (the column's size).
MAX_SUBJECT_LENGTH = 255
# The password hash of an account created by SSO: empty, like an invited account's, so no
# password matches (an admin can still send it a set-password link).
NO_PASSWORD = ""

NO_ROLE = (
    "You signed in with {provider}, but your account there is in none of the groups that give "
    "access to Candor, so you are not logged in. Ask an administrator to add you to the right "
    "group."
)
NOT_VERIFIED = (
    "You signed in with {provider}, but it did not confirm an e-mail address for you, which "
    "Candor needs to know which staff account is yours. Ask an administrator."
)
LINKED_ELSEWHERE = (
    "The staff account for this e-mail address is already linked to another {provider} "
    "identity, so you are not logged in. Ask an administrator."
)
DISABLED = "This staff account is disabled, so you are not logged in. Ask an administrator."
NOT_VERIFIABLE = (
    "The answer from {provider} could not be verified, so you are not logged in. Try again; "
    "if it keeps happening, tell an administrator."
)
STALE = "This sign-in attempt has expired or was started in another browser or tab. Start again."
DENIED = "{provider} did not sign you in ({reason})."
SSO_ONLY_REFUSAL = (
    "Password login is off: log in with {provider}. Only the break-glass administrator "
    "account still has a password."
)
RACED = "Another login to this account was being set up at the same moment. Start again."
UNAVAILABLE = (
    "{provider} cannot be reached right now, so you cannot log in with it. "
    "Try again in a few minutes."
)


class SsoError(Exception):
    """A single sign-on that did not log anyone in; ``message`` is shown to the person.

    :param status: the HTTP status of the page that says so (403 refused, 400 a bad or stale
        answer, 503 the provider cannot be reached).
    """

    def __init__(self, message: str, status: int = 403, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.detail = detail  # for the log only


@dataclass(frozen=True)
class Settings:
    """The provider and client settings (OIDC_* configuration keys)."""

    issuer: str
    client_id: str
    client_secret: str
    scopes: str
    role_claim: str
    role_map: Mapping[str, str]
    provider_name: str
    timeout: float

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Settings | None:
        """Return the settings, or None when single sign-on is not configured."""
        if not config.get("OIDC_ISSUER"):
            return None
        return cls(
            issuer=str(config["OIDC_ISSUER"]),
            client_id=str(config["OIDC_CLIENT_ID"]),
            client_secret=str(config["OIDC_CLIENT_SECRET"]),
            scopes=str(config["OIDC_SCOPES"]),
            role_claim=str(config["OIDC_ROLE_CLAIM"]),
            role_map=dict(config["OIDC_ROLE_MAP"]),
            provider_name=str(config["OIDC_PROVIDER_NAME"]),
            timeout=float(config["OIDC_TIMEOUT"]),
        )

    def say(self, template: str, **values: str) -> str:
        """Return one of this module's messages with the provider's name filled in."""
        return template.format(provider=self.provider_name, **values)


@dataclass(frozen=True)
class Pending:
    """What the browser's session keeps between the redirect to the provider and its answer."""

    state: str
    nonce: str
    verifier: str
    next: str

    def to_dict(self) -> dict[str, str]:
        """Return the plain form kept in the session cookie."""
        return {
            "state": self.state,
            "nonce": self.nonce,
            "verifier": self.verifier,
            "next": self.next,
        }

    @classmethod
    def from_dict(cls, data: object) -> Pending | None:
        """Return the pending login kept in the session, or None if there is none."""
        if not isinstance(data, dict):
            return None
        try:
            return cls(
                str(data["state"]), str(data["nonce"]), str(data["verifier"]), str(data["next"])
            )
        except KeyError:
            return None


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in, from a validated ID token."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    role: Role | None


@dataclass
class _Provider:
    """Discovery metadata and signing keys of one issuer, as fetched."""

    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    algorithms: tuple[str, ...]
    fetched: float
    jwks: dict[str, Any] | None = None


_cache: dict[str, _Provider] = {}
_cache_lock = threading.Lock()


def _http(settings: Settings, redirect_uri: str | None = None) -> OAuth2Session:
    return OAuth2Session(
        settings.client_id,
        settings.client_secret,
        scope=settings.scopes,
        redirect_uri=redirect_uri,
        code_challenge_method="S256",
        token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
    )


def _get_json(settings: Settings, url: str) -> dict[str, Any]:
    try:
        with _http(settings) as http:
            response = http.get(url, timeout=settings.timeout, withhold_token=True)
            response.raise_for_status()
            data = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise SsoError(settings.say(UNAVAILABLE), 503, f"GET {url}: {exc}") from exc
    if not isinstance(data, dict):
        raise SsoError(settings.say(UNAVAILABLE), 503, f"GET {url}: not a JSON object")
    return data


def _provider(settings: Settings) -> _Provider:
    """Return the issuer's discovery metadata, fetched at most once an hour per process."""
    with _cache_lock:
        cached = _cache.get(settings.issuer)
    if cached is not None and time.monotonic() - cached.fetched < METADATA_TTL_SECONDS:
        return cached
    url = settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
    meta = _get_json(settings, url)
    # OpenID Connect Discovery 1.0, section 4.3: the issuer must be exactly the one configured.
    if meta.get("issuer") != settings.issuer:
        raise SsoError(
            settings.say(NOT_VERIFIABLE), 503, f"discovery names issuer {meta.get('issuer')!r}"
        )
    try:
        offered = meta.get("id_token_signing_alg_values_supported") or ["RS256"]
        provider = _Provider(
            authorization_endpoint=str(meta["authorization_endpoint"]),
            token_endpoint=str(meta["token_endpoint"]),
            jwks_uri=str(meta["jwks_uri"]),
            algorithms=tuple(a for a in SIGNING_ALGORITHMS if a in offered),
            fetched=time.monotonic(),
        )
    except KeyError as exc:
        raise SsoError(settings.say(UNAVAILABLE), 503, f"discovery lacks {exc}") from exc
    with _cache_lock:
        _cache[settings.issuer] = provider
    return provider


def _keys(settings: Settings, provider: _Provider, refresh: bool = False) -> KeySet:
    if provider.jwks is None or refresh:
        provider.jwks = _get_json(settings, provider.jwks_uri)
    try:
        return KeySet.import_key_set(provider.jwks)  # type: ignore[arg-type]
    except (JoseError, ValueError, KeyError, TypeError) as exc:
        raise SsoError(settings.say(NOT_VERIFIABLE), 503, f"unusable JWKS: {exc}") from exc


def begin(settings: Settings, redirect_uri: str, next_path: str) -> tuple[str, Pending]:
    """Return the provider's authorization URL and what to keep until its answer comes back."""
    provider = _provider(settings)
    pending = Pending(
        state=secrets.token_urlsafe(32),
        nonce=secrets.token_urlsafe(32),
        verifier=secrets.token_urlsafe(64),
        next=next_path,
    )
    with _http(settings, redirect_uri) as http:
        url, _state = http.create_authorization_url(
            provider.authorization_endpoint,
            state=pending.state,
            code_verifier=pending.verifier,
            nonce=pending.nonce,
        )
    return str(url), pending


def finish(
    settings: Settings,
    pending: Pending | None,
    redirect_uri: str,
    answer: Mapping[str, str],
    now: dt.datetime,
) -> Identity:
    """Check the provider's answer, redeem its code and return the validated identity.

    :param answer: the query parameters the provider sent the browser back with.
    :param now: the current UTC time (the app's clock) against which the token's times are checked.
    """
    if pending is None or not secrets.compare_digest(answer.get("state", ""), pending.state):
        raise SsoError(STALE, 400, "state missing or different")
    if "error" in answer:
        reason = answer.get("error_description") or answer["error"]
        raise SsoError(settings.say(DENIED, reason=reason[:200]), 403, f"error {answer['error']}")
    # RFC 9207: a provider that names itself in the answer must be the one we sent the person to.
    if "iss" in answer and answer["iss"] != settings.issuer:
        raise SsoError(settings.say(NOT_VERIFIABLE), 400, f"answer from {answer['iss']!r}")
    code = answer.get("code", "")
    if not code:
        raise SsoError(STALE, 400, "no code")
    provider = _provider(settings)
    try:
        with _http(settings, redirect_uri) as http:
            token = http.fetch_token(
                provider.token_endpoint,
                grant_type="authorization_code",
                code=code,
                code_verifier=pending.verifier,
                timeout=settings.timeout,
            )
    except requests.RequestException as exc:
        raise SsoError(settings.say(UNAVAILABLE), 503, f"token endpoint: {exc}") from exc
    except (OAuthError, ValueError) as exc:
        raise SsoError(settings.say(NOT_VERIFIABLE), 403, f"token endpoint: {exc}") from exc
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SsoError(settings.say(NOT_VERIFIABLE), 403, "no id_token in the token response")
    claims = validate_id_token(
        settings, provider, id_token, pending.nonce, str(token.get("access_token", "")), now
    )
    subject = str(claims["sub"])
    if not subject or len(subject) > MAX_SUBJECT_LENGTH:
        raise SsoError(settings.say(NOT_VERIFIABLE), 403, "sub empty or over 255 characters")
    try:
        email = accounts.normalise_email(str(claims["email"])) if claims.get("email") else None
    except accounts.AccountError:
        email = None  # not an address Candor can keep: treated as no address
    return Identity(
        issuer=settings.issuer,
        subject=subject,
        email=email,
        email_verified=claims.get("email_verified") is True,
        role=mapped_role(settings, claims),
    )


def validate_id_token(
    settings: Settings,
    provider: _Provider,
    id_token: str,
    nonce: str,
    access_token: str,
    now: dt.datetime,
) -> dict[str, Any]:
    """Return the claims of an ID token whose signature, issuer, audience, times, nonce,
    authorised party and access-token hash all check out; raise :class:`SsoError` otherwise."""
    refused = settings.say(NOT_VERIFIABLE)
    if not provider.algorithms:
        raise SsoError(refused, 503, "the provider offers no asymmetric ID-token algorithm")
    try:
        try:
            decoded = jwt.decode(id_token, _keys(settings, provider), list(provider.algorithms))
        except InvalidKeyIdError:  # the provider rotated its keys since we fetched them
            decoded = jwt.decode(
                id_token, _keys(settings, provider, refresh=True), list(provider.algorithms)
            )
        claims = CodeIDToken(
            decoded.claims,
            decoded.header,
            {
                "iss": {"essential": True, "value": settings.issuer},
                "aud": {"essential": True, "value": settings.client_id},
                "sub": {"essential": True},
                "exp": {"essential": True},
            },
            {"nonce": nonce, "client_id": settings.client_id, "access_token": access_token},
        )
        claims.validate(
            now=int(now.replace(tzinfo=dt.UTC).timestamp()), leeway=CLOCK_LEEWAY_SECONDS
        )
    except JoseError as exc:
        claim = exc.claim if isinstance(exc, ClaimError) else "-"
        detail = f"ID token refused: {exc.error} {claim} ({exc.description})"
        raise SsoError(refused, 403, detail) from exc
    except (ValueError, TypeError) as exc:
        raise SsoError(refused, 403, f"ID token unreadable: {exc}") from exc
    return dict(claims)


def mapped_role(settings: Settings, claims: Mapping[str, Any]) -> Role | None:
    """Return the role the configured claim maps to, or None if no value of it is mapped."""
    value: Any = claims
    for part in settings.role_claim.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    values = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    roles = {settings.role_map[v] for v in values if isinstance(v, str) and v in settings.role_map}
    return next((role for role in ROLE_PRECEDENCE if role.value in roles), None)


def account_for(session: Session, settings: Settings, identity: Identity, now: dt.datetime) -> User:
    """Return the staff account ``identity`` logs in as, linking or creating it by the rules of
    this module's docstring, with its role set from the provider's claim; the caller commits."""
    if identity.role is None:
        raise SsoError(settings.say(NO_ROLE), 403, f"no mapped role for {identity.subject!r}")
    link = session.scalar(
        select(SsoIdentity).where(
            SsoIdentity.issuer == identity.issuer, SsoIdentity.subject == identity.subject
        )
    )
    if link is not None:
        user = link.user
    else:
        user = _link_or_create(session, settings, identity, now)
    if not user.active:
        raise SsoError(DISABLED, 403, f"account {user.id} is disabled")
    user.role = identity.role
    session.flush()
    return user


def _link_or_create(
    session: Session, settings: Settings, identity: Identity, now: dt.datetime
) -> User:
    if not identity.email or not identity.email_verified:
        raise SsoError(
            settings.say(NOT_VERIFIED), 403, f"no verified email for {identity.subject!r}"
        )
    user = session.scalar(select(User).where(User.email == identity.email))
    if user is None:
        user = User(email=identity.email, role=identity.role, password_hash=NO_PASSWORD)
        session.add(user)
        session.flush()
        log.info("single sign-on created the %s account %s", identity.role, identity.email)
    else:
        taken = session.scalar(
            select(SsoIdentity).where(
                SsoIdentity.user_id == user.id, SsoIdentity.issuer == identity.issuer
            )
        )
        if taken is not None:
            raise SsoError(settings.say(LINKED_ELSEWHERE), 403, f"{identity.email} linked already")
    session.add(
        SsoIdentity(
            user_id=user.id, issuer=identity.issuer, subject=identity.subject, linked_at=now
        )
    )
    session.flush()
    return user


def password_login_refusal(session: Session, email: str, config: Mapping[str, Any]) -> str | None:
    """Return why a password login for ``email`` is refused before any password is checked,
    or None if it may go ahead: with SSO_ONLY, only the BREAK_GLASS_ADMIN account, an admin,
    may try one (so no other account's password can even be tested)."""
    if not config["SSO_ONLY"]:
        return None
    refusal = SSO_ONLY_REFUSAL.format(provider=config["OIDC_PROVIDER_NAME"])
    email = email.strip().lower()
    if email != config["BREAK_GLASS_ADMIN"]:
        return refusal
    user = session.scalar(select(User).where(User.email == email))
    return None if user is not None and user.role is Role.ADMIN else refusal


def forget_providers() -> None:
    """Drop every cached discovery document and key set (tests, or after changing providers)."""
    with _cache_lock:
        _cache.clear()

"""The release manifest's schema: one typed shape that release writes and every surface reads.

Invariant: a manifest crosses layers only as a :class:`Manifest`; :func:`parse` is the one way
in from stored JSON and :func:`serialise` the one way out, and ``serialise(parse(x)) == x`` for
every manifest a release writes (so the stored JSON, and the digest recorded over it, never
depend on this module). Parsing fails closed: a wrong type, a missing field, a field this
schema does not know or a version it cannot read raises :class:`ManifestError`, never a
half-read manifest.

Every version stored so far is read: all say ``"version": 1``, and fields added after the
first releases (quarantined rows, ballot keys, link hand-outs, scale quality, coded cells) are
:func:`optional`: absent in an older manifest, ``None`` once parsed, and left out again when
serialised. Add a field the same way; bump :data:`MANIFEST_VERSION` only when the meaning of
an existing field changes, and teach :func:`parse` to read the old one.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

MANIFEST_VERSION = 1
READABLE_VERSIONS = (1,)
_OMIT = "omit_if_none"

T = TypeVar("T")


class ManifestError(ValueError):
    """Raised for stored JSON that is not a manifest this version of Candor can read."""


def optional() -> Any:
    """Return a field that older manifests may lack: ``None`` when absent, omitted when None."""
    return field(default=None, metadata={_OMIT: True})


# --- the schema --------------------------------------------------------------------------------


@dataclass(frozen=True)
class RoundInfo:
    """Which round the release is of."""

    id: int
    number: int
    label: str
    program: str
    opens_on: str
    closed_on: str


@dataclass(frozen=True)
class Theme:
    """A theme the round asked about, in question-bank order."""

    key: str
    label: str


@dataclass(frozen=True)
class Participation:
    """Organisation-wide participation, rounded; None when the organisation is hidden."""

    org_pct_rounded: int | None


@dataclass(frozen=True)
class ThemeCell:
    """One published figure. A uniform cell has no mean, spread or interval (``mean`` is None)
    but ``mean_text``, its coded index, and ``coded``, why; its favourable share is coded."""

    n: int
    mean: float | None
    favourable_pct: float | None
    favourable_text: str
    sd: float | None
    ci_low: float | None
    ci_high: float | None
    mean_text: str | None = optional()
    coded: str | None = optional()


@dataclass(frozen=True)
class CodedItem:
    """An item whose answers are not published (everyone answered alike): how many, and why."""

    n: int
    coded: str


@dataclass(frozen=True)
class ScaleQuality:
    """Cronbach's alpha and within-group agreement of one multi-item theme."""

    items: int
    alpha: float | None
    agreement: float | None
    interpretable: bool


@dataclass(frozen=True)
class UnitRow:
    """A unit of the round's snapshot: its figures if shown, the neutral reason if hidden.

    ``n`` and ``participation_pct`` exist for shown units only; the distributions and scale
    quality only for units safe for them.
    """

    id: int
    path: str
    name: str
    parent: int | None
    depth: int
    eligible: int
    shown: bool
    reason: str
    themes: dict[str, ThemeCell]
    n: int | None = optional()
    participation_pct: float | None = optional()
    scale_quality: dict[str, ScaleQuality] | None = optional()
    distributions: dict[str, tuple[int, ...]] | None = optional()
    distributions_coded: dict[str, CodedItem] | None = optional()
    # True when published coarsened across rounds (see domain/churn.py); absent otherwise.
    coarse: bool | None = optional()
    noisy: bool | None = optional()  # True when its figures carry DP noise (domain/noise.py)


@dataclass(frozen=True)
class AttributeCell:
    """A unit crossed with one attribute band (e.g. tenure): figures if shown."""

    unit: int
    path: str
    band: str
    shown: bool
    reason: str
    themes: dict[str, ThemeCell]
    n: int | None = optional()
    coarse: bool | None = optional()  # as on UnitRow
    noisy: bool | None = optional()  # as on UnitRow


@dataclass(frozen=True)
class Attributes:
    """The attribute breakdowns: the attribute's name, its bands and the candidate cells."""

    name: str
    bands: tuple[str, ...]
    cells: tuple[AttributeCell, ...]


@dataclass(frozen=True)
class CommentGroup:
    """Masked, shuffled comments of one group that passed the comment threshold."""

    unit: int
    label: str
    count: int
    texts: tuple[str, ...]


@dataclass(frozen=True)
class CellDefinition:
    """A published cell's structure: a unit's subtree, or one attribute band of it."""

    kind: str
    unit: int
    band: str | None = optional()


@dataclass(frozen=True)
class AuditRecord:
    """The disclosure audit's verdict over everything published."""

    ok: bool
    mode: str
    published: tuple[CellDefinition, ...]
    cells: int
    atoms: int
    sets_checked: int
    exhaustive: bool
    # The published cells that are coarsened, not exact (see domain/churn.py); absent if none.
    coarse: tuple[CellDefinition, ...] | None = optional()


@dataclass(frozen=True)
class NoiseRecord:
    """A release with differential privacy on: its budget and how it was spent.

    ``epsilon`` is the release's budget; each noisy figure got ``per_figure`` of it, and only
    cells of at least ``min_n`` respondents were noisy (see domain/noise.py).
    """

    epsilon: float
    per_figure: float
    min_n: int
    mechanism: str


@dataclass(frozen=True)
class BallotKey:
    """A ballot key's fingerprint: one per storage group."""

    key_id: int
    unit: str
    band: str
    fingerprint: str


@dataclass(frozen=True)
class Handout:
    """A hand-out of the round's links other than by email: when (UTC) and by which role."""

    at: str
    by: str


@dataclass(frozen=True)
class Manifest:
    """Everything a released round publishes, and nothing else."""

    version: int
    round: RoundInfo
    k: int
    comment_k: int
    themes: tuple[Theme, ...]
    participation: Participation
    units: tuple[UnitRow, ...]
    attributes: Attributes
    comments: tuple[CommentGroup, ...]
    audit: AuditRecord
    quarantined: int | None = optional()
    ballot_keys: tuple[BallotKey, ...] | None = optional()
    links_handed_out: tuple[Handout, ...] | None = optional()
    noise: NoiseRecord | None = optional()  # absent: differential privacy off

    def unit(self, unit_id: int) -> UnitRow | None:
        """Return the unit with id ``unit_id``, or None if the round's snapshot lacks it."""
        return self._units_by_id.get(unit_id)

    def respondents(self, cell: CellDefinition) -> int:
        """Return the respondents of a published cell (a unit's subtree, or one band of it).

        :raises ManifestError: if the manifest publishes no such cell with its n.
        """
        if cell.kind == "unit":
            row = self.unit(cell.unit)
            n = row.n if row is not None else None
        else:
            found = self._attribute_cells.get((cell.unit, cell.band))
            n = found.n if found is not None else None
        if n is None:
            raise ManifestError(f"the manifest publishes no n for {cell}")
        return n

    @functools.cached_property
    def root(self) -> UnitRow:
        """Return the organisation: the one unit without a parent."""
        return next(u for u in self.units if u.parent is None)

    def asked(self, theme: str) -> bool:
        """Return whether the round asked about ``theme`` (rotating themes skip some rounds)."""
        return theme in self._theme_keys

    # Indexes over the frozen fields, built on first use and kept in the instance's __dict__
    # (not fields: ``dataclasses.fields``, equality, ``replace`` and serialising ignore them;
    # ``replace`` builds a new instance, which builds its own). Every page looks units up
    # by id many times per round, so a scan per look-up is quadratic in the organisation.
    @functools.cached_property
    def _units_by_id(self) -> dict[int, UnitRow]:
        found: dict[int, UnitRow] = {}
        for unit in self.units:
            found.setdefault(unit.id, unit)  # the first, as a scan would find
        return found

    @functools.cached_property
    def _attribute_cells(self) -> dict[tuple[int, str | None], AttributeCell]:
        found: dict[tuple[int, str | None], AttributeCell] = {}
        for cell in self.attributes.cells:
            found.setdefault((cell.unit, cell.band), cell)  # the first, as a scan would find
        return found

    @functools.cached_property
    def _theme_keys(self) -> frozenset[str]:
        return frozenset(t.key for t in self.themes)


# --- the one parse/serialise pair ----------------------------------------------------------------


def parse(data: Mapping[str, Any]) -> Manifest:
    """Return the stored JSON ``data`` as a :class:`Manifest`.

    :raises ManifestError: if ``data`` is not a manifest of a readable version.
    """
    if not isinstance(data, Mapping):
        raise ManifestError("a manifest is a JSON object")
    version = data.get("version")
    if version not in READABLE_VERSIONS:
        raise ManifestError(
            f"manifest version {version!r} cannot be read here (readable: {READABLE_VERSIONS})"
        )
    return _read(Manifest, data, "manifest")


def serialise(manifest: Manifest) -> dict[str, Any]:
    """Return ``manifest`` as the JSON object that is stored and digested."""
    written = to_json(manifest)
    assert isinstance(written, dict)
    return written


def to_json(value: Any) -> Any:
    """Return any part of a manifest as plain JSON (optional fields that are None left out)."""
    if type(value) in _PLAIN:
        return value
    names = _FIELD_NAMES.get(type(value))
    if names is None and dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = _FIELD_NAMES[type(value)] = tuple(
            (spec.name, bool(spec.metadata.get(_OMIT))) for spec in dataclasses.fields(value)
        )
    if names is not None:
        out = {}
        for name, omit in names:
            item = getattr(value, name)
            if item is None and omit:
                continue
            out[name] = to_json(item)
        return out
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [to_json(item) for item in value]
    return value


# Values to_json writes as they are, and each dataclass's fields as it writes them: (name,
# left out when None).
_PLAIN = frozenset({str, int, float, bool, type(None)})
_FIELD_NAMES: dict[type, tuple[tuple[str, bool], ...]] = {}

# A manifest is read by a reader compiled once per type hint (parse runs several times per
# release and on every dashboard miss; inspecting the hints for every value was most of it).
# A reader is given where its value sits ("manifest.units[3].n") for its error message, or
# None: a valid manifest is read without naming every value's place, and only one that fails
# is read again with places, to say where.
_Reader = Callable[[Any, str | None], Any]
_READERS: dict[Any, _Reader] = {}


def _read(cls: type[T], data: Any, where: str) -> T:
    """Return ``data`` read as the dataclass ``cls``, checking every field's type."""
    read = _reader(cls)
    try:
        found: T = read(data, None)
    except ManifestError:
        read(data, where)  # raises the same error, saying where
        raise
    return found


def _reader(hint: Any) -> _Reader:
    """Return the (cached) function that reads JSON data as the type ``hint``."""
    found = _READERS.get(hint)
    if found is None:
        found = _READERS[hint] = _compile(hint)
    return found


def _compile(hint: Any) -> _Reader:
    """Return a function that reads JSON data as the type ``hint``, checking it."""
    origin = typing.get_origin(hint)
    if origin in (types.UnionType, typing.Union):
        (only,) = [a for a in typing.get_args(hint) if a is not type(None)]
        return lambda data, where: None if data is None else _reader(only)(data, where)
    if origin is tuple:
        (inner, _ellipsis) = typing.get_args(hint)

        def read_tuple(data: Any, where: str | None) -> tuple[Any, ...]:
            if not isinstance(data, list | tuple):
                raise ManifestError(f"{where} must be a list")
            read = _reader(inner)
            if where is None:
                return tuple(read(item, None) for item in data)
            return tuple(read(item, f"{where}[{i}]") for i, item in enumerate(data))

        return read_tuple
    if origin is dict:
        _key, inner = typing.get_args(hint)

        def read_dict(data: Any, where: str | None) -> dict[str, Any]:
            if not isinstance(data, Mapping):
                raise ManifestError(f"{where} must be an object")
            read = _reader(inner)
            if where is None:
                return {str(key): read(item, None) for key, item in data.items()}
            return {str(key): read(item, f"{where}.{key}") for key, item in data.items()}

        return read_dict
    if dataclasses.is_dataclass(hint):
        return _compile_dataclass(hint)  # type: ignore[arg-type]
    if hint is float:

        def read_number(data: Any, where: str | None) -> Any:
            if isinstance(data, bool) or not isinstance(data, int | float):
                raise ManifestError(f"{where} must be a number")
            return data  # an int stays an int, so the stored JSON round-trips exactly

        return read_number
    if hint in (int, str, bool):

        def read_plain(data: Any, where: str | None) -> Any:
            if not isinstance(data, hint) or (hint is int and isinstance(data, bool)):
                raise ManifestError(f"{where} must be of type {hint.__name__}")
            return data

        return read_plain

    def unreadable(data: Any, where: str | None) -> Any:
        raise ManifestError(f"{where}: the schema uses a type it cannot read ({hint!r})")

    return unreadable


def _compile_dataclass(cls: type) -> _Reader:
    """Return a function that reads a JSON object as the dataclass ``cls``."""
    hints = typing.get_type_hints(cls)
    specs = dataclasses.fields(cls)
    names = frozenset(spec.name for spec in specs)
    fields = [
        (spec.name, "." + spec.name, bool(spec.metadata.get(_OMIT)), hints[spec.name])
        for spec in specs
    ]

    def read_object(data: Any, where: str | None) -> Any:
        if not isinstance(data, Mapping):
            raise ManifestError(f"{where} must be an object")
        if not names.issuperset(data):
            unknown = sorted(set(data) - names)
            raise ManifestError(f"{where} has fields this schema does not know: {unknown}")
        values = {}
        for name, step, omit, hint in fields:
            if name not in data:
                if omit:
                    continue
                raise ManifestError(f"{where} lacks {name!r}")
            values[name] = _reader(hint)(data[name], None if where is None else where + step)
        return cls(**values)

    return read_object

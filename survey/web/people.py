"""Administration of the organisation tree and roster: edit one person, preview and apply an import.

A round that is open keeps the roster it opened with (its snapshot): every change here applies
to rounds opened later, so no edit during a round can re-cut who answered in which group.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask import session as cookie_session
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, FileSize
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response
from wtforms import BooleanField, HiddenField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length

from ..clock import utcnow
from ..db import get_session
from ..domain.csvlines import LineError
from ..domain.roster import (
    KNOWN_BANDS,
    MAX_EMAIL_CHARS,
    MAX_NAME_CHARS,
    MAX_ROWS,
    PATH_SEPARATOR,
)
from ..domain.roster_plan import all_errors
from ..models import Role
from ..services import audit_trail, roster
from .forms import IMPORT_INCOMPLETE, ActionForm, uploaded_text
from .security import roles_required

bp = Blueprint("people", __name__, url_prefix="/admin/org")

# A roster of 20,000 people is about 1.4 MB (70 bytes a line); this admits MAX_ROWS people
# with long names. Only the two import routes accept requests this large (see
# _allow_a_whole_roster); Werkzeug spools an upload this size to a temporary file while parsing.
MAX_FILE_BYTES = 4 * 1024 * 1024
# Browsers send form values with CRLF line ends, so the carried text may grow by one per line.
MAX_TEXT_CHARS = MAX_FILE_BYTES + MAX_ROWS
IMPORT_REQUEST_BYTES = MAX_TEXT_CHARS + 64 * 1024  # the text plus the rest of the form
IMPORT_ROUTES = ("people.preview", "people.apply")
MAX_SEARCH_CHARS = 254
MAX_UNIT_CHARS = 1000
SHOWN = 200  # problems or changes listed per kind on the preview; the counts say how many


def _too_large_message() -> str:
    """Return the message of a roster file too large for the browser, naming the limit."""
    return (
        f"The file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB, the most this page "
        f"accepts; import it with `candor roster import FILE` (up to {MAX_ROWS:,} people)."
    )


class UploadForm(FlaskForm):  # type: ignore[misc]
    """A roster CSV to preview."""

    file = FileField(
        "Roster file (CSV, UTF-8)",
        validators=[
            FileRequired(message="Choose a CSV file to preview."),
            FileSize(max_size=MAX_FILE_BYTES, message=_too_large_message()),
        ],
    )


class ApplyForm(FlaskForm):  # type: ignore[misc]
    """The previewed file, carried back unchanged, and the fingerprint of its plan."""

    csv_text = HiddenField(validators=[InputRequired(), Length(max=MAX_TEXT_CHARS)])
    fingerprint = HiddenField(validators=[InputRequired(), Length(max=64)])
    confirm_leaving = BooleanField("Yes, these people have left: take them off the roster")


class PersonForm(FlaskForm):  # type: ignore[misc]
    """One person's line of the roster; checked by the same validator as an import line."""

    email = StringField("Email", validators=[Length(max=MAX_EMAIL_CHARS)])
    name = StringField("Name (optional)", validators=[Length(max=MAX_NAME_CHARS)])
    unit = StringField(
        f"Unit (its path, such as Lab{PATH_SEPARATOR}Research{PATH_SEPARATOR}Language)",
        validators=[Length(max=MAX_UNIT_CHARS)],
    )
    tenure = SelectField("Tenure", choices=[SelectChoice(b, b) for b in KNOWN_BANDS])


@bp.url_value_preprocessor
def _allow_a_whole_roster(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """Admit a whole roster on the import routes only (everything else keeps the app limit).

    This runs before any request hook reads the form (the CSRF check does), which is why it
    is a URL preprocessor rather than a ``before_request``; the user is not known yet, so only
    a request carrying a staff session cookie is admitted (the view still checks the role).
    """
    if endpoint in IMPORT_ROUTES and cookie_session.get("sid"):
        request.max_content_length = IMPORT_REQUEST_BYTES
        request.max_form_memory_size = IMPORT_REQUEST_BYTES


@bp.errorhandler(RequestEntityTooLarge)
def _too_large(error: RequestEntityTooLarge) -> tuple[str, int]:
    """Say what the limit is and what to do instead, rather than a generic error page.

    The form is read (by the CSRF check) before anyone is authorised, so this page shows no
    roster data: only the limit and the command.
    """
    return render_template("people/too_large.html", message=_too_large_message()), 413


@bp.get("/")
@roles_required(Role.ADMIN)
def index() -> str:
    """Show the tree with headcounts, one page of the roster and the import form."""
    return _index_page(UploadForm())


def _index_page(form: UploadForm, person: PersonForm | None = None) -> str:
    search = request.args.get("q", "")[:MAX_SEARCH_CHARS]
    page = request.args.get("page", 1, type=int) or 1
    session = get_session()
    return render_template(
        "people/index.html",
        form=form,
        tree=roster.tree(session),
        roster=roster.roster_page(session, search, page),
        search=search,
        bands=KNOWN_BANDS,
        max_rows=MAX_ROWS,
        max_mb=MAX_FILE_BYTES // (1024 * 1024),
        person=person or PersonForm(None, tenure=KNOWN_BANDS[-1]),
        adding=person is not None,
        unit_paths=_unit_paths(),
    )


def _unit_paths() -> list[str]:
    """Return every unit's path, for the unit field's suggestions."""

    def walk(nodes: tuple[roster.UnitNode, ...]) -> list[str]:
        return [p for n in nodes for p in (n.path, *walk(n.children))]

    return walk(roster.tree(get_session()))


@bp.post("/preview")
@roles_required(Role.ADMIN)
def preview() -> str | tuple[str, int]:
    """Show what importing the uploaded file would change, or why it cannot; change nothing."""
    form = UploadForm()
    if not form.validate_on_submit():
        return _index_page(form), 400
    text = uploaded_text(form.file)
    if text is None:
        return _index_page(form), 400
    return _preview_page(text, form.file.data.filename or "the file")


def _preview_page(text: str, filename: str) -> str:
    parsed, planned = roster.preview(get_session(), text)
    errors = all_errors(parsed, planned)
    apply_form = ApplyForm(formdata=None, csv_text=text, fingerprint=planned.fingerprint)
    return render_template(
        "people/preview.html",
        filename=filename,
        parsed=parsed,
        plan=planned,
        errors=errors[:SHOWN],
        shown=SHOWN,
        error_count=len(errors),
        form=apply_form,
    )


def _audit(action: str, detail: str) -> None:
    """Record a roster change in the audit trail: who changed the roster, never any answer."""
    audit_trail.record(get_session(), g.user.email, action, detail, utcnow())


def _person_fields(form: PersonForm, email: str) -> tuple[str, str, str, str]:
    """Return email, unit, tenure and name as the roster validator takes them."""
    return email, form.unit.data or "", form.tenure.data or "", form.name.data or ""


def _mark(form: PersonForm, errors: tuple[LineError, ...]) -> None:
    """Put each problem on the field it names (the rest on the email field)."""
    for error in errors:
        field = getattr(form, error.column, None) if error.column else None
        target = field if field is not None and field.name != "csrf_token" else form.email
        target.errors = [*target.errors, error.message]


@bp.post("/apply")
@roles_required(Role.ADMIN)
def apply() -> Response | str:
    """Apply a previewed file whole, after checking it again, or change nothing."""
    form = ApplyForm()
    if not form.validate_on_submit():
        flash(IMPORT_INCOMPLETE, "error")
        return redirect(url_for("people.index"))
    session = get_session()
    try:
        planned = roster.apply(
            session,
            form.csv_text.data,
            form.fingerprint.data,
            leaving_confirmed=form.confirm_leaving.data,
        )
        _audit("roster_import", planned.summary)
        session.commit()
    except roster.RosterError as exc:
        session.rollback()
        flash(str(exc), "error")
        return _preview_page(form.csv_text.data, "the previewed file")
    flash(f"Roster imported: {planned.summary} Rounds opened from now on use it.", "info")
    return redirect(url_for("people.index"))


@bp.post("/people")
@roles_required(Role.ADMIN)
def add_person() -> Response | tuple[str, int]:
    """Add one person to the roster, with the same checks as an import line."""
    form = PersonForm()
    if not form.validate_on_submit():
        return _index_page(UploadForm(None), form), 400
    session = get_session()
    try:
        planned = roster.save_person(
            session, *_person_fields(form, form.email.data or ""), new=True
        )
        _audit("roster_person_add", planned.summary)
        session.commit()
    except roster.RosterError as exc:
        session.rollback()
        _mark(form, exc.errors or (LineError(0, "email", str(exc)),))
        return _index_page(UploadForm(None), form), 400
    flash(
        f"{form.email.data.strip().lower()} added. Rounds opened from now on invite them.", "info"
    )
    return redirect(url_for("people.index", q=form.email.data.strip().lower()))


def _person_page(person: roster.RosterEntry, form: PersonForm | None = None) -> str:
    return render_template(
        "people/person.html",
        person=person,
        form=form or PersonForm(None, unit=person.unit, tenure=person.band, name=person.name),
        toggle=ActionForm(None),
        unit_paths=_unit_paths(),
    )


@bp.route("/people/<int:person_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def person(person_id: int) -> Response | str | tuple[str, int]:
    """Show one person and change their unit, tenure band or name."""
    session = get_session()
    entry = roster.find_person(session, person_id)
    if entry is None:
        flash("That person is not on the roster.", "error")
        return redirect(url_for("people.index"))
    form = PersonForm()
    if request.method == "GET":
        return _person_page(entry)
    if not form.validate_on_submit():
        return _person_page(entry, form), 400
    try:
        planned = roster.save_person(session, *_person_fields(form, entry.email), new=False)
        _audit("roster_person_change", f"person={person_id}: {planned.summary}")
        session.commit()
    except roster.RosterError as exc:
        session.rollback()
        _mark(form, exc.errors or (LineError(0, "email", str(exc)),))
        return _person_page(entry, form), 400
    done = planned.summary if planned.changes_anything else "Nothing to change."
    flash(f"{entry.email}: {done} Rounds opened from now on use it.", "info")
    return redirect(url_for("people.person", person_id=person_id))


@bp.post("/people/<int:person_id>/<any(leave, return):change>")
@roles_required(Role.ADMIN)
def set_active(person_id: int, change: str) -> Response:
    """Take one person off the roster (kept for past rounds) or bring them back."""
    session = get_session()
    try:
        roster.set_active(session, person_id, change == "return")
        _audit(f"roster_person_{change}", f"person={person_id}")
        session.commit()
    except roster.RosterError as exc:
        session.rollback()
        flash(str(exc), "error")
        return redirect(url_for("people.index"))
    if change == "return":
        flash("Back on the roster: rounds opened from now on invite them.", "info")
    else:
        flash(
            "Off the roster: kept for past rounds, not invited to rounds opened from now on.",
            "info",
        )
    return redirect(url_for("people.person", person_id=person_id))

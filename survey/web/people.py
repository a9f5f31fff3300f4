"""Administration of the organisation tree and roster: view them, preview and apply an import."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, FileSize
from werkzeug.wrappers import Response
from wtforms import HiddenField
from wtforms.validators import InputRequired, Length

from ..db import get_session
from ..domain.roster import KNOWN_BANDS, MAX_ROWS, all_errors
from ..models import Role
from ..services import roster
from .security import roles_required

bp = Blueprint("people", __name__, url_prefix="/admin/org")

# The whole request must also fit in MAX_CONTENT_LENGTH (256 KiB by default); larger rosters
# are imported with `candor roster import`.
MAX_FILE_BYTES = 200 * 1024
# Browsers send form values with CRLF line ends, so the carried text may grow by one per line.
MAX_TEXT_CHARS = MAX_FILE_BYTES + MAX_ROWS
MAX_SEARCH_CHARS = 254
SHOWN = 200  # problems or changes listed per kind on the preview; the counts say how many


class UploadForm(FlaskForm):  # type: ignore[misc]
    """A roster CSV to preview."""

    file = FileField(
        "Roster file (CSV, UTF-8)",
        validators=[
            FileRequired(message="Choose a CSV file to preview."),
            FileSize(
                max_size=MAX_FILE_BYTES,
                message=f"The file is larger than {MAX_FILE_BYTES // 1024} KB; "
                "import it with `candor roster import` instead.",
            ),
        ],
    )


class ApplyForm(FlaskForm):  # type: ignore[misc]
    """The previewed file, carried back unchanged, and the fingerprint of its plan."""

    csv_text = HiddenField(validators=[InputRequired(), Length(max=MAX_TEXT_CHARS)])
    fingerprint = HiddenField(validators=[InputRequired(), Length(max=64)])


@bp.get("/")
@roles_required(Role.ADMIN)
def index() -> str:
    """Show the tree with headcounts, one page of the roster and the import form."""
    return _index_page(UploadForm())


def _index_page(form: UploadForm) -> str:
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
        max_kb=MAX_FILE_BYTES // 1024,
    )


@bp.post("/preview")
@roles_required(Role.ADMIN)
def preview() -> str | tuple[str, int]:
    """Show what importing the uploaded file would change, or why it cannot; change nothing."""
    form = UploadForm()
    if not form.validate_on_submit():
        return _index_page(form), 400
    try:
        text = form.file.data.read().decode("utf-8-sig")
    except UnicodeDecodeError:
        form.file.errors = ["The file is not UTF-8 text; save it as “CSV UTF-8” and try again."]
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


@bp.post("/apply")
@roles_required(Role.ADMIN)
def apply() -> Response | str:
    """Apply a previewed file whole, after checking it again, or change nothing."""
    form = ApplyForm()
    if not form.validate_on_submit():
        flash("Nothing changed: the import form was incomplete; upload the file again.", "error")
        return redirect(url_for("people.index"))
    session = get_session()
    try:
        planned = roster.apply(session, form.csv_text.data, form.fingerprint.data)
        session.commit()
    except roster.RosterError as exc:
        session.rollback()
        flash(str(exc), "error")
        return _preview_page(form.csv_text.data, "the previewed file")
    flash(f"Roster imported: {planned.summary} Rounds opened from now on use it.", "info")
    return redirect(url_for("people.index"))

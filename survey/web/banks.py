"""Administration of question banks: list them, preview and import a bank file, export one."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, FileSize
from werkzeug.wrappers import Response
from wtforms import BooleanField, HiddenField, StringField
from wtforms.validators import InputRequired, Length, Optional, Regexp

from ..db import get_session
from ..domain.bankfile import BANK_KEY, MAX_ITEMS_IN_FILE, BankFileError
from ..domain.questions import BankError
from ..models import Role
from ..services import bankfiles
from .forms import IMPORT_INCOMPLETE, uploaded_text
from .security import roles_required

bp = Blueprint("banks", __name__, url_prefix="/admin/banks")

MAX_FILE_BYTES = 200 * 1024
# Browsers send form values with CRLF line ends, so the carried text may grow by one per line.
MAX_TEXT_CHARS = MAX_FILE_BYTES + MAX_ITEMS_IN_FILE + 100
KEY_RULE = "lower-case letters, digits and -, at most 64"


class UploadForm(FlaskForm):  # type: ignore[misc]
    """A bank file to preview, and optionally the key to store it under."""

    file = FileField(
        "Bank file (CSV, UTF-8)",
        validators=[
            FileRequired(message="Choose a CSV file to preview."),
            FileSize(
                max_size=MAX_FILE_BYTES,
                message=f"The file is larger than {MAX_FILE_BYTES // 1024} KB.",
            ),
        ],
    )
    key = StringField(
        "Bank key (optional: overrides the file's “# key:” line)",
        validators=[
            Optional(),
            Length(max=64, message="The key is longer than 64 characters."),
            Regexp(BANK_KEY, message=f"The key must use only {KEY_RULE}."),
        ],
    )


class ImportForm(FlaskForm):  # type: ignore[misc]
    """The previewed file, carried back unchanged, its key, and the consent to replace."""

    csv_text = HiddenField(validators=[InputRequired(), Length(max=MAX_TEXT_CHARS)])
    key = HiddenField(validators=[InputRequired(), Length(max=64)])
    replace = BooleanField("Replace the imported bank that has this key")


@bp.get("/")
@roles_required(Role.ADMIN)
def index() -> str:
    """List shipped and imported banks with where they are used, and the upload form."""
    return _index_page(UploadForm())


def _index_page(form: UploadForm) -> str:
    return render_template(
        "banks/index.html",
        form=form,
        banks=bankfiles.catalogue(get_session()),
        max_kb=MAX_FILE_BYTES // 1024,
    )


@bp.post("/preview")
@roles_required(Role.ADMIN)
def preview() -> tuple[str, int]:
    """Show the bank in the uploaded file, or every problem in it; store nothing."""
    form = UploadForm()
    if not form.validate_on_submit():
        return _index_page(form), 400
    text = uploaded_text(form.file)
    if text is None:
        return _index_page(form), 400
    return _preview_page(text, form.file.data.filename or "the file", form.key.data or None)


def _preview_page(text: str, filename: str, key: str | None, message: str = "") -> tuple[str, int]:
    """Render what importing ``text`` would do; 400 with every problem if it cannot."""
    try:
        check = bankfiles.check_import(get_session(), text, key)
    except BankFileError as exc:
        page = render_template(
            "banks/preview.html", filename=filename, errors=exc.errors, check=None
        )
        return page, 400
    form = ImportForm(formdata=None, csv_text=text, key=check.bank.key)
    page = render_template(
        "banks/preview.html",
        filename=filename,
        errors=(),
        check=check,
        form=form,
        message=message,
    )
    return page, 409 if message else 200


@bp.post("/import")
@roles_required(Role.ADMIN)
def import_() -> Response | tuple[str, int]:
    """Import a previewed file, after checking it again, or change nothing."""
    form = ImportForm()
    if not form.validate_on_submit():
        flash(IMPORT_INCOMPLETE, "error")
        return redirect(url_for("banks.index"))
    session = get_session()
    try:
        check = bankfiles.import_bank(
            session, form.csv_text.data, form.key.data, replace=bool(form.replace.data)
        )
        session.commit()
    except BankFileError:
        session.rollback()
        return _preview_page(form.csv_text.data, "the previewed file", form.key.data)
    except bankfiles.BankImportRefused as exc:
        session.rollback()
        return _preview_page(form.csv_text.data, "the previewed file", form.key.data, str(exc))
    flash(
        f"Imported the bank {check.bank.key}: {len(check.bank.themes)} themes, "
        f"{len(check.bank.items)} items. Programmes asking it use it from their next round.",
        "info",
    )
    return redirect(url_for("banks.index"))


@bp.get("/<key>.csv")
@roles_required(Role.ADMIN)
def export(key: str) -> Response:
    """Download a bank as a CSV file that imports back unchanged."""
    if not BANK_KEY.match(key):
        abort(404)
    try:
        text = bankfiles.export_csv(get_session(), key)
    except BankError:
        abort(404)
    return Response(
        text,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{key}.csv"'},
    )

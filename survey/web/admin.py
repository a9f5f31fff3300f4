"""Administration: programmes and the life of their rounds."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import BooleanField, DateField, FloatField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import InputRequired, Length, Optional

from ..clock import utcnow
from ..db import get_session, session_scope
from ..domain import export
from ..domain.cadence import DEFAULT_WINDOW_DAYS
from ..domain.crypto import CryptoError
from ..domain.disclosure import DEFAULT_COMMENT_K, DEFAULT_K
from ..domain.mail import DEFAULT_SENDER, MailError, build_test_message
from ..domain.questions import BankError
from ..domain.rotation import DEFAULT_ROTATION_EVERY, RotationError
from ..models import Cadence, Custody, Program, QuestionBankRecord, Role, RoundStatus
from ..services import audit_trail, custody, hygiene, programs, rounds, transports
from ..services.participation import participation_today
from .forms import ActionForm
from .security import roles_required

bp = Blueprint("admin", __name__, url_prefix="/admin")


class TestMailForm(FlaskForm):  # type: ignore[misc]
    """Where to send a test message."""

    address = StringField("Send a test message to", validators=[InputRequired(), Length(max=254)])


class ProgramForm(FlaskForm):  # type: ignore[misc]
    """A programme's settings (shape only; the programmes service validates the meaning)."""

    name = StringField("Name", validators=[InputRequired(), Length(max=programs.MAX_NAME)])
    bank = SelectField("Question bank")
    k = IntegerField("k: fewest respondents any figure may describe", default=DEFAULT_K)
    comment_k = IntegerField(
        "Fewest respondents before comments are shown", default=DEFAULT_COMMENT_K
    )
    cadence = SelectField(
        "Cadence",
        choices=[SelectChoice(c.value, c.value.capitalize()) for c in Cadence],
        default=Cadence.MANUAL.value,
    )
    first_open_on = DateField("First round opens on", validators=[Optional()])
    window_days = IntegerField("Days each round stays open", default=DEFAULT_WINDOW_DAYS)
    rotation_every = IntegerField(
        "Rotate themes over this many rounds", default=DEFAULT_ROTATION_EVERY
    )
    strict_links = BooleanField("Strict links: forget the link secret after the invitations")
    unlinkable_required = BooleanField(
        "Unlinkable ballots required: refuse answers sent without JavaScript, and never "
        "export or print links"
    )
    active = BooleanField("Active (tick opens its rounds)", default=True)
    custodians = BooleanField(
        "Custodian mode: a quorum of named custodians' passphrases opens each round's "
        "answers; the instance key alone opens nothing"
    )
    custody_quorum = IntegerField("Custodians needed to release a round (quorum)", default=2)
    retention_days = IntegerField(
        "Days released answers stay sealed for re-analysis (0: destroyed at release)", default=0
    )
    dp_epsilon = FloatField(
        "Differential privacy: budget \u03b5 per release for groups of 50 or more "
        "(empty: off; 1 is a common choice, smaller adds more noise)",
        validators=[Optional()],
    )


def _bank_choices() -> list[SelectChoice]:
    from ..domain.questions import DEFAULT_BANK

    keys = {DEFAULT_BANK} | set(get_session().scalars(select(QuestionBankRecord.key)))
    return [SelectChoice(k, k) for k in sorted(keys)]


@bp.route("/programs/new", methods=["GET", "POST"])
@bp.route("/programs/<int:program_id>", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def program(program_id: int | None = None) -> Response | str | tuple[str, int]:
    """Create or edit a programme; show the rotation schedule it implies."""
    session = get_session()
    existing = session.get(Program, program_id) if program_id is not None else None
    if program_id is not None and existing is None:
        abort(404)
    form = ProgramForm(obj=existing) if request.method == "GET" and existing else ProgramForm()
    if request.method == "GET" and existing:
        form.cadence.data = existing.cadence.value
        form.custodians.data = existing.custody is Custody.CUSTODIANS
    form.bank.choices = _bank_choices()
    status = 200
    if form.validate_on_submit():
        settings = programs.ProgramSettings(
            name=form.name.data,
            bank=form.bank.data,
            k=form.k.data,
            comment_k=form.comment_k.data,
            cadence=form.cadence.data,
            window_days=form.window_days.data,
            rotation_every=form.rotation_every.data,
            first_open_on=form.first_open_on.data,
            strict_links=form.strict_links.data,
            unlinkable_required=form.unlinkable_required.data,
            active=form.active.data,
            custodians=form.custodians.data,
            custody_quorum=form.custody_quorum.data,
            retention_days=form.retention_days.data,
            dp_epsilon=form.dp_epsilon.data,
        )
        try:
            saved = programs.save_program(session, existing, settings)
            session.commit()
            flash(f"Saved {saved.name}. Changes apply to rounds not yet opened.", "info")
            return redirect(url_for("admin.program", program_id=saved.id))
        except programs.ProgramError as exc:
            session.rollback()
            form[exc.field].errors.append(str(exc))
            status = 400
    elif request.method == "POST":
        status = 400
    preview: list[str] = []
    if existing is not None:
        try:
            preview = programs.schedule_preview(session, existing.bank, existing.rotation_every)
        except (RotationError, BankError):
            preview = []
    return render_template(
        "admin/program.html",
        form=form,
        program=existing,
        preview=preview,
        custodians=custody.custodians(session, existing.id) if existing else [],
    ), status


@bp.get("/")
@roles_required(Role.ADMIN)
def index() -> str:
    """List programmes and their rounds with what can be done next."""
    programs = list(get_session().scalars(select(Program).order_by(Program.id)))
    today = utcnow().date()
    participation = {}
    with session_scope(current_app) as writer:  # the day's figure is recorded once, then fixed
        for program in programs:
            for rnd in program.rounds:
                if rnd.status is RoundStatus.OPEN:
                    participation[rnd.id] = participation_today(
                        writer, rounds.get_round(writer, rnd.id), today
                    )
        writer.commit()
    return render_template(
        "admin/index.html", programs=programs, form=ActionForm(), participation=participation
    )


@bp.post("/rounds/<int:round_id>/<action>")
@roles_required(Role.ADMIN)
def round_action(round_id: int, action: str) -> Response:
    """Open, close or release a round."""
    session = get_session()
    kek: bytes = current_app.extensions["candor.kek"]
    today = utcnow().date()
    try:
        rnd = rounds.get_round(session, round_id)
        message = rounds.advance(session, rnd, action, kek, today)
        audit_trail.record(session, g.user.email, f"round_{action}", f"round={rnd.id}", utcnow())
        session.commit()
        if action in hygiene.SCRUBBING_STEPS:
            hygiene.scrub_storage(current_app.extensions["candor.engine"])
        flash(message, "info")
    except rounds.REFUSALS as exc:
        session.rollback()
        flash(f"Nothing changed: {exc}", "error")
        return redirect(url_for("admin.index"))
    if action == "open":  # where its invitations are sent
        return redirect(url_for("sending.round_page", round_id=round_id))
    return redirect(url_for("admin.index"))


@bp.post("/rounds/<int:round_id>/links.csv")
@roles_required(Role.ADMIN)
def export_links(round_id: int) -> Response:
    """Download an open round's links for a mail merge: once per round, recorded."""
    session = get_session()
    try:
        rnd = rounds.get_round(session, round_id)
        links = rounds.export_links_once(
            session,
            rnd,
            current_app.extensions["candor.kek"],
            current_app.config["PUBLIC_URL"],
            g.user.email,
            utcnow(),
        )
        session.commit()
    except (rounds.RoundError, CryptoError) as exc:
        session.rollback()
        flash(f"Nothing exported: {exc}", "error")
        return redirect(url_for("admin.index"))
    body = export.links_csv(
        (link.email, link.name, link.url, link.code, link.entry_url) for link in links
    )
    return Response(
        body,
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="candor-{rnd.label}-links.csv"'},
    )


@bp.route("/mail", methods=["GET", "POST"])
@roles_required(Role.ADMIN)
def mail_settings() -> str | tuple[str, int]:
    """Show the email settings in force and send a test message."""
    form = TestMailForm()
    status = 200
    if form.validate_on_submit():
        try:
            message = build_test_message(
                sender=current_app.config["MAIL_FROM"] or DEFAULT_SENDER,
                recipient=form.address.data,
            )
            with transports.mailer_from_config(current_app.config) as sink:
                sink.send(message)
            flash(f"Sent a test message to {form.address.data}.", "info")
        except MailError as exc:
            flash(f"The test message was not sent: {exc}", "error")
            status = 502
    settings = {
        key: current_app.config.get(key)
        for key in (
            "MAIL_BACKEND",
            "MAIL_FROM",
            "MAIL_OUTBOX_DIR",
            "SMTP_HOST",
            "SMTP_PORT",
            "SMTP_STARTTLS",
            "SMTP_USERNAME",
            "SMTP_TIMEOUT",
        )
    }
    settings["SMTP_PASSWORD"] = "set" if current_app.config.get("SMTP_PASSWORD") else "not set"
    return render_template("admin/mail.html", form=form, settings=settings), status


@bp.get("/programs/<int:program_id>/schedule")
@roles_required(Role.ADMIN, Role.HR)
def schedule(program_id: int) -> str:
    """Show HR which themes each round of a programme asks."""
    session = get_session()
    program = session.get(Program, program_id)
    if program is None:
        abort(404)
    try:
        preview = programs.schedule_preview(session, program.bank, program.rotation_every)
    except (RotationError, BankError):
        preview = []
    return render_template("admin/schedule.html", program=program, preview=preview)


@bp.post("/programs/<int:program_id>/rounds")
@roles_required(Role.ADMIN)
def new_round(program_id: int) -> Response:
    """Add a draft round to a programme."""
    session = get_session()
    program = session.get(Program, program_id)
    if program is None:
        flash("Nothing changed: unknown programme.", "error")
        return redirect(url_for("admin.index"))
    rnd = rounds.create_round(session, program)
    session.commit()
    flash(f"Draft {rnd.label} added to {program.name}.", "info")
    return redirect(url_for("admin.index"))

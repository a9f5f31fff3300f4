"""Form shapes. No database access here; the survey form is built from the question bank."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import EmailField, PasswordField, RadioField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length

from ..domain.questions import LIKERT_LABELS, Item
from ..services.submission import COMMENT_MAX_CHARS

ITEM_FIELD_PREFIX = "q_"


class LoginForm(FlaskForm):  # type: ignore[misc]
    """Staff login."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired()])


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that changes state: only the CSRF token."""


class SurveyFormBase(FlaskForm):  # type: ignore[misc]
    """Fields shared by every survey: the access code and the optional comment."""

    token = StringField(
        "Access code from your invitation",
        validators=[InputRequired(message="The access code from your invitation is missing.")],
    )
    comment = TextAreaField(
        "Comment",
        validators=[
            Length(
                max=COMMENT_MAX_CHARS,
                message=f"Please keep the comment under {COMMENT_MAX_CHARS} characters.",
            )
        ],
    )


def field_name(item: Item) -> str:
    """Return the form field name of an item."""
    return ITEM_FIELD_PREFIX + item.key


def survey_form_class(items: tuple[Item, ...]) -> type[Any]:
    """Return a form class with one required radio group per item."""
    attrs: dict[str, Any] = {}
    for item in items:
        low, high = item.bounds
        if item.scale == "nps":
            choices = [SelectChoice(str(v), str(v)) for v in range(low, high + 1)]
        else:
            choices = [SelectChoice(str(v), LIKERT_LABELS[v - 1]) for v in range(low, high + 1)]
        attrs[field_name(item)] = RadioField(
            item.text,
            choices=choices,
            validators=[InputRequired(message="Please choose an answer.")],
        )
    return type("SurveyForm", (SurveyFormBase,), attrs)


def answers_from(form: Any, items: tuple[Item, ...]) -> dict[str, int]:
    """Return the validated answers keyed by item."""
    return {item.key: int(form[field_name(item)].data) for item in items}

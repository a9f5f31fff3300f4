"""Form shapes. No database access here; the survey form is built from the question bank."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import (
    EmailField,
    HiddenField,
    PasswordField,
    RadioField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, DataRequired, InputRequired, Length

from ..domain import i18n
from ..domain.questions import PREFER_NOT_TO_SAY, Item
from ..services.submission import COMMENT_MAX_CHARS

ITEM_FIELD_PREFIX = "q_"
NOT_UTF8 = "The file is not UTF-8 text; save it as “CSV UTF-8” and try again."
# Flashed when a previewed import comes back without its file or fingerprint.
IMPORT_INCOMPLETE = "Nothing changed: the import form was incomplete; upload the file again."


class LoginForm(FlaskForm):  # type: ignore[misc]
    """Staff login."""

    email = EmailField("Email", validators=[DataRequired(), Length(max=254)])
    password = PasswordField("Password", validators=[DataRequired()])


class ActionForm(FlaskForm):  # type: ignore[misc]
    """A button that changes state: only the CSRF token."""


class SurveyFormBase(FlaskForm):  # type: ignore[misc]
    """The survey: access code, optional comment, the page's language and one group per item.

    Its labels and messages are in the language the employee picked; see
    :func:`survey_form_class`. The language only travels with the form so that a page shown
    again after an error keeps it; it is never stored.
    """


def field_name(item: Item) -> str:
    """Return the form field name of an item."""
    return ITEM_FIELD_PREFIX + item.key


def survey_form_class(items: tuple[Item, ...], lang: str = i18n.DEFAULT) -> type[Any]:
    """Return a form class in ``lang`` with one required radio group per item.

    An item that offers "prefer not to say" has it as one more choice of its group, so it is
    an answer; any other item refuses that value as it refuses any value not on its scale.
    """
    attrs: dict[str, Any] = {
        "token": StringField(
            i18n.t(lang, "token.label"),
            validators=[InputRequired(message=i18n.t(lang, "token.missing"))],
        ),
        "comment": TextAreaField(
            "Comment",
            validators=[
                Length(
                    max=COMMENT_MAX_CHARS,
                    message=i18n.t(lang, "comment.too_long", max=COMMENT_MAX_CHARS),
                )
            ],
        ),
        "lang": HiddenField(default=lang),
    }
    required = InputRequired(message=i18n.t(lang, "answer.required"))
    likert = [i18n.t(lang, f"likert.{v}") for v in range(1, 6)]
    for item in items:
        low, high = item.bounds
        if item.scale == "nps":
            choices = [SelectChoice(str(v), str(v)) for v in range(low, high + 1)]
        else:
            choices = [SelectChoice(str(v), likert[v - low]) for v in range(low, high + 1)]
        if item.prefer_not_to_say:
            choices.append(SelectChoice(PREFER_NOT_TO_SAY, i18n.t(lang, "answer.prefer_not")))
        attrs[field_name(item)] = RadioField(
            item.text_in(lang),
            choices=choices,
            # AnyOf rather than WTForms' own choice check, whose message is English only.
            validators=[required, AnyOf([c.value for c in choices], message=required.message)],
            validate_choice=False,
        )
    return type("SurveyForm", (SurveyFormBase,), attrs)


def answers_from(form: Any, items: tuple[Item, ...]) -> dict[str, int]:
    """Return the validated answers keyed by item, leaving out "prefer not to say"."""
    return {
        item.key: int(form[field_name(item)].data)
        for item in items
        if form[field_name(item)].data != PREFER_NOT_TO_SAY
    }


def uploaded_text(field: Any) -> str | None:
    """Return the text of the file uploaded in ``field`` (UTF-8, a byte-order mark dropped),
    or None after putting on the field why it cannot be read."""
    try:
        return str(field.data.read().decode("utf-8-sig"))
    except UnicodeDecodeError:
        field.errors = [NOT_UTF8]
        return None

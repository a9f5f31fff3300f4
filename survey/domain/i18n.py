"""The words of the employee pages in every language Candor offers.

Invariants: every message exists in every language of :data:`SUPPORTED` and takes exactly the
same named parameters in each (a test checks both); English is the fallback for anything a
page asks in an unknown language. The language is a parameter of each call, never a setting
kept anywhere: the employee picks it on the page, and nothing records the choice.
Question texts are not here: they come from the bank's own translations.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

DEFAULT = "en"
SUPPORTED = ("en", "de")
# Each language by its own name, so a reader finds theirs whatever the page's language.
NAMES = {"en": "English", "de": "Deutsch"}

MESSAGES: Mapping[str, Mapping[str, str]] = {
    "en": {
        # the page frame
        "frame.skip": "Skip to content",
        "frame.privacy": "Privacy",
        "frame.footer": "What Candor protects",
        # survey form
        "form.title": "Pulse survey {round}",
        "form.heading": "How are things at work?",
        "form.language": "Language",
        "promise.heading": "Your answers cannot be traced to you",
        "promise.text": (
            "Candor keeps no record of who answered what: this link is checked once and "
            "forgotten, answers are encrypted, and results are only shown for groups of at "
            "least {k} people (comments: at least {comment_k})."
        ),
        "promise.link": "What is protected, in detail",
        "token.label": "Access code from your invitation",
        "token.hint": (
            "Your invitation link fills this in. If it is empty, copy the code after the “#” "
            "in your link."
        ),
        "token.missing": "The access code from your invitation is missing.",
        "token.invalid": "This access code is not valid or has already been used.",
        "progress.label": "Questions answered",
        "progress.count": "{done} of {total}",
        "progress.answered": "{done} of {total} answered",
        "progress.intro": "{total} questions, about {minutes} minutes.",
        "progress.intro_one": "{total} questions, about one minute.",
        "question.number": "{number} of {total}",
        "answer.required": "Please choose an answer.",
        "answer.prefer_not": "Prefer not to say",
        "likert.1": "Strongly disagree",
        "likert.2": "Disagree",
        "likert.3": "Neither agree nor disagree",
        "likert.4": "Agree",
        "likert.5": "Strongly agree",
        "nps.low": "0 = not at all likely",
        "nps.high": "10 = extremely likely",
        "comment.hint": (
            "Comments are read by people. They are shown only for groups of at least "
            "{comment_k}, names, emails and phone numbers are masked, but your wording may "
            "still be recognisable."
        ),
        "comment.too_long": "Please keep the comment under {max} characters.",
        "submit": "Send my answers",
        "submit.hint": (
            "You can answer once per round. Your first answer checks your link in; your "
            "answers are stored only when you press send, and this browser keeps them until then."
        ),
        "ballot.unlinkable": (
            "Unlinkable ballot: at your first answer your browser gets a blind signature for "
            "your group, then sends your answers separately with it, so not even the server "
            "can tie them to your link."
        ),
        "ballot.fingerprint": "Ballot key of your group: {fingerprint}",
        "ballot.keys_link": "All keys of this round",
        "ballot.nojs": (
            "JavaScript is off, so the server checks your link and receives your answers in "
            "the same request. They are still stored apart and shuffled, but someone running "
            "the server could pair them. Turn JavaScript on for an unlinkable ballot."
        ),
        "ballot.nojs_refused": (
            "This survey accepts only unlinkable ballots, which need JavaScript. Please turn "
            "JavaScript on and reload this page; nothing was saved and your link still works."
        ),
        "ballot.network": (
            "Your answers could not be sent. Everything you chose is still here and your link "
            "is kept; please send again."
        ),
        "ballot.resumed": "Your earlier answers are back; send them when you are ready.",
        "ballot.links_exported": (
            "Note: the links of this round were exported for a mail merge by {role} on {date}."
        ),
        "errors.one": "1 answer needs your attention; everything you chose is still here.",
        "errors.other": (
            "{count} answers need your attention; everything you chose is still here."
        ),
        "errors.not_saved": "Your answers were not saved: the access code did not work.",
        "errors.busy": "The server was busy and nothing was saved; please send again.",
        "errors.unavailable": (
            "The survey cannot save answers at the moment; your link still works. Please try "
            "again in a minute."
        ),
        "errors.expired": (
            "Your answers were not sent: this page was open for a long time, or your browser "
            "dropped its cookie. Everything you chose is still here; please send again."
        ),
        "unavailable.heading": "The survey is briefly unavailable",
        "unavailable.kept": (
            "Your answers are kept on this page, and nothing was saved yet. Send them again in "
            "a minute."
        ),
        # "You said, we did"
        "actions.heading": "You said, we did",
        "actions.intro": "What leadership has done after earlier rounds of this survey:",
        "actions.after": "After {round}",
        "actions.status.planned": "Planned",
        "actions.status.in_progress": "In progress",
        "actions.status.done": "Done",
        # thanks
        "thanks.title": "Thank you",
        "thanks.heading": "Thank you — your answers are in",
        "thanks.text": (
            "They were encrypted as they arrived and your link no longer works, so nobody can "
            "answer in your place. Results appear once the round has closed, and only for "
            "groups of at least the privacy threshold."
        ),
        "thanks.link": "What Candor protects, and how",
        # unusable link
        "unusable.title": "Link cannot be used",
        "unusable.heading": "This link cannot be used",
        "unusable.text": (
            "It may have been used already, or it may be incomplete. Each invitation link "
            "works once per round. If you copied it by hand, check that it is complete; "
            "otherwise wait for the next round's invitation."
        ),
        "unusable.privacy": "For your privacy Candor cannot tell whether or when a link was used.",
        # round not open
        "not_open.title": "Round not open",
        "not_open.draft.heading": "This round has not started yet",
        "not_open.draft.text": "Your link will work once the round opens.",
        "not_open.closed.heading": "This round has closed",
        "not_open.closed.text": (
            "Answers are no longer accepted for this round. Thank you for your interest — the "
            "next invitation will come with the next round."
        ),
    },
    "de": {
        "frame.skip": "Zum Inhalt springen",
        "frame.privacy": "Datenschutz",
        "frame.footer": "Was Candor schützt",
        "form.title": "Pulsbefragung {round}",
        "form.heading": "Wie läuft es bei der Arbeit?",
        "form.language": "Sprache",
        "promise.heading": "Ihre Antworten lassen sich nicht auf Sie zurückführen",
        "promise.text": (
            "Candor speichert nicht, wer was geantwortet hat: Dieser Link wird einmal geprüft "
            "und dann vergessen, die Antworten werden verschlüsselt, und Ergebnisse werden nur "
            "für Gruppen von mindestens {k} Personen gezeigt (Kommentare: mindestens "
            "{comment_k})."
        ),
        "promise.link": "Was genau geschützt ist (auf Englisch)",
        "token.label": "Zugangscode aus Ihrer Einladung",
        "token.hint": (
            "Ihr Einladungslink füllt dieses Feld aus. Ist es leer, kopieren Sie den Code "
            "nach dem „#“ in Ihrem Link."
        ),
        "token.missing": "Der Zugangscode aus Ihrer Einladung fehlt.",
        "token.invalid": "Dieser Zugangscode ist ungültig oder wurde bereits verwendet.",
        "progress.label": "Beantwortete Fragen",
        "progress.count": "{done} von {total}",
        "progress.answered": "{done} von {total} beantwortet",
        "progress.intro": "{total} Fragen, etwa {minutes} Minuten.",
        "progress.intro_one": "{total} Fragen, etwa eine Minute.",
        "question.number": "{number} von {total}",
        "answer.required": "Bitte wählen Sie eine Antwort.",
        "answer.prefer_not": "Keine Angabe",
        "likert.1": "Stimme überhaupt nicht zu",
        "likert.2": "Stimme nicht zu",
        "likert.3": "Weder noch",
        "likert.4": "Stimme zu",
        "likert.5": "Stimme voll und ganz zu",
        "nps.low": "0 = überhaupt nicht wahrscheinlich",
        "nps.high": "10 = äußerst wahrscheinlich",
        "comment.hint": (
            "Kommentare werden von Menschen gelesen. Sie werden nur für Gruppen von mindestens "
            "{comment_k} Personen gezeigt, Namen, E-Mail-Adressen und Telefonnummern werden "
            "unkenntlich gemacht, aber Ihre Formulierung kann trotzdem wiedererkennbar sein."
        ),
        "comment.too_long": "Bitte halten Sie den Kommentar unter {max} Zeichen.",
        "submit": "Antworten senden",
        "submit.hint": (
            "Sie können einmal pro Runde antworten. Ihre erste Antwort meldet Ihren Link an; "
            "gespeichert wird erst, wenn Sie auf Senden drücken, und bis dahin behält dieser "
            "Browser Ihre Antworten."
        ),
        "ballot.unlinkable": (
            "Unverknüpfbarer Stimmzettel: Bei Ihrer ersten Antwort erhält Ihr Browser eine "
            "blinde Signatur für Ihre Gruppe und sendet Ihre Antworten getrennt damit, sodass "
            "nicht einmal der Server sie Ihrem Link zuordnen kann."
        ),
        "ballot.fingerprint": "Stimmzettel-Schlüssel Ihrer Gruppe: {fingerprint}",
        "ballot.keys_link": "Alle Schlüssel dieser Runde",
        "ballot.nojs": (
            "JavaScript ist aus, daher prüft der Server Ihren Link und erhält Ihre Antworten in "
            "derselben Anfrage. Sie werden trotzdem getrennt und gemischt gespeichert, aber wer "
            "den Server betreibt, könnte sie zuordnen. Schalten Sie JavaScript für einen "
            "unverknüpfbaren Stimmzettel ein."
        ),
        "ballot.nojs_refused": (
            "Diese Befragung nimmt nur unverknüpfbare Stimmzettel an, die JavaScript brauchen. "
            "Bitte schalten Sie JavaScript ein und laden Sie die Seite neu; nichts wurde "
            "gespeichert und Ihr Link funktioniert noch."
        ),
        "ballot.network": (
            "Ihre Antworten konnten nicht gesendet werden. Alles, was Sie gewählt haben, ist "
            "noch da, und Ihr Link bleibt erhalten; bitte senden Sie noch einmal."
        ),
        "ballot.resumed": (
            "Ihre früheren Antworten sind wieder da; senden Sie, wenn Sie so weit sind."
        ),
        "ballot.links_exported": (
            "Hinweis: Die Links dieser Runde wurden am {date} von {role} für einen Serienbrief "
            "exportiert."
        ),
        "errors.one": (
            "1 Antwort braucht Ihre Aufmerksamkeit; alles, was Sie gewählt haben, ist noch da."
        ),
        "errors.other": (
            "{count} Antworten brauchen Ihre Aufmerksamkeit; alles, was Sie gewählt haben, ist "
            "noch da."
        ),
        "errors.not_saved": (
            "Ihre Antworten wurden nicht gespeichert: Der Zugangscode hat nicht funktioniert."
        ),
        "errors.busy": (
            "Der Server war ausgelastet und es wurde nichts gespeichert; bitte senden Sie noch "
            "einmal."
        ),
        "errors.unavailable": (
            "Die Befragung kann gerade keine Antworten speichern; Ihr Link bleibt gültig. Bitte "
            "versuchen Sie es in einer Minute noch einmal."
        ),
        "errors.expired": (
            "Ihre Antworten wurden nicht gesendet: Die Seite war lange geöffnet, oder Ihr Browser "
            "hat sein Cookie verworfen. Alles, was Sie gewählt haben, ist noch da; bitte senden "
            "Sie noch einmal."
        ),
        "unavailable.heading": "Die Befragung ist kurz nicht erreichbar",
        "unavailable.kept": (
            "Ihre Antworten sind auf dieser Seite aufbewahrt, gespeichert wurde noch nichts. "
            "Senden Sie sie in einer Minute noch einmal."
        ),
        "actions.heading": "Ihr Feedback, unsere Maßnahmen",
        "actions.intro": "Was die Leitung nach früheren Runden dieser Befragung getan hat:",
        "actions.after": "Nach {round}",
        "actions.status.planned": "Geplant",
        "actions.status.in_progress": "In Arbeit",
        "actions.status.done": "Erledigt",
        "thanks.title": "Vielen Dank",
        "thanks.heading": "Vielen Dank — Ihre Antworten sind angekommen",
        "thanks.text": (
            "Sie wurden beim Eingang verschlüsselt, und Ihr Link funktioniert nicht mehr, "
            "sodass niemand an Ihrer Stelle antworten kann. Ergebnisse erscheinen, sobald die "
            "Runde geschlossen ist, und nur für Gruppen, die mindestens die Datenschutzschwelle "
            "erreichen."
        ),
        "thanks.link": "Was Candor schützt und wie (auf Englisch)",
        "unusable.title": "Link nicht verwendbar",
        "unusable.heading": "Dieser Link kann nicht verwendet werden",
        "unusable.text": (
            "Vielleicht wurde er schon verwendet, oder er ist unvollständig. Jeder "
            "Einladungslink funktioniert einmal pro Runde. Wenn Sie ihn von Hand kopiert haben, "
            "prüfen Sie, ob er vollständig ist; warten Sie sonst auf die Einladung zur nächsten "
            "Runde."
        ),
        "unusable.privacy": (
            "Zum Schutz Ihrer Privatsphäre kann Candor nicht feststellen, ob oder wann ein Link "
            "verwendet wurde."
        ),
        "not_open.title": "Runde nicht geöffnet",
        "not_open.draft.heading": "Diese Runde hat noch nicht begonnen",
        "not_open.draft.text": "Ihr Link funktioniert, sobald die Runde geöffnet ist.",
        "not_open.closed.heading": "Diese Runde ist geschlossen",
        "not_open.closed.text": (
            "Für diese Runde werden keine Antworten mehr angenommen. Danke für Ihr Interesse — "
            "die nächste Einladung kommt mit der nächsten Runde."
        ),
    },
}


def pick(requested: str | None) -> str:
    """Return ``requested`` if Candor speaks it, else the default language."""
    return requested if requested in SUPPORTED else DEFAULT


def t(lang: str, key: str, **params: object) -> str:
    """Return message ``key`` in ``lang`` (English if unsupported), filled with ``params``.

    Raises :class:`KeyError` for an unknown key or a missing parameter, so a page cannot
    silently show a placeholder.
    """
    return MESSAGES[pick(lang)][key].format(**params)


def placeholders(message: str) -> frozenset[str]:
    """Return the names of the parameters ``message`` takes."""
    return frozenset(name for _, name, _, _ in string.Formatter().parse(message) if name)

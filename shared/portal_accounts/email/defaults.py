"""The shipped templates: four emails in Italian and English, text and HTML.

Each template has a fixed list of variables (`VARIABLES`) and the ones it cannot do
without (`REQUIRED`): a link email without its link, or a new-password email without the
password, would be useless. The HTML part is the body of the email (rendering.document
wraps it), and keeps the rules of email/safety.py like any operator's copy.
"""

from __future__ import annotations

TEMPLATE_IDS = ("password_reset_link", "new_password", "account_credentials", "password_changed")
LOCALES = ("it", "en")

_COMMON = ("first_name", "username", "business_name", "portal_url")

VARIABLES: dict[str, tuple[str, ...]] = {
    "password_reset_link": (*_COMMON, "link", "link_valid_minutes"),
    "new_password": (*_COMMON, "password", "password_valid_days"),
    "account_credentials": (*_COMMON, "link", "link_valid_hours"),
    "password_changed": (*_COMMON, "changed_at"),
}

REQUIRED: dict[str, tuple[str, ...]] = {
    "password_reset_link": ("link",),
    "new_password": ("password",),
    "account_credentials": ("link",),
    "password_changed": (),
}

SAMPLE_VALUES = {
    "first_name": "Maria",
    "username": "maria.rossi@example.com",
    "business_name": "Palestra Aurora",
    "portal_url": "https://shop.example.com",
    "link": "https://shop.example.com/reset-password?token=SAMPLE-TOKEN",
    "link_valid_minutes": "60",
    "link_valid_hours": "72",
    "password": "sample-Pass-word-2026",
    "password_valid_days": "7",
    "changed_at": "2026-01-01 09:00 UTC",
}


DEFAULTS: dict[tuple[str, str], dict[str, str]] = {
    ("password_reset_link", "it"): {
        "subject": "{{ business_name }}: reimposta la tua password",
        "text": (
            "Ciao {{ first_name }},\n\n"
            "abbiamo ricevuto una richiesta di reimpostare la password dell'account "
            "{{ username }}.\n"
            "Per sceglierne una nuova apri questo link:\n\n{{ link }}\n\n"
            "Il link vale {{ link_valid_minutes }} minuti e si può usare una sola volta. "
            "Se è scaduto, richiedine un altro dalla pagina di accesso con "
            '"Password dimenticata".\n'
            "Se non hai chiesto tu il reset, ignora questa email: la password resta quella "
            "di prima.\n\n{{ business_name }}"
        ),
        "html": (
            "<p>Ciao {{ first_name }},</p>"
            "<p>abbiamo ricevuto una richiesta di reimpostare la password dell'account "
            "<strong>{{ username }}</strong>.</p>"
            '<p><a href="{{ link }}">Scegli una nuova password</a></p>'
            "<p>Il link vale {{ link_valid_minutes }} minuti e si può usare una sola volta. "
            "Se è scaduto, richiedine un altro dalla pagina di accesso con "
            "&laquo;Password dimenticata&raquo;.</p>"
            "<p>Se non hai chiesto tu il reset, ignora questa email: la password resta "
            "quella di prima.</p><p>{{ business_name }}</p>"
        ),
    },
    ("password_reset_link", "en"): {
        "subject": "{{ business_name }}: reset your password",
        "text": (
            "Hello {{ first_name }},\n\n"
            "we received a request to reset the password of the account {{ username }}.\n"
            "To choose a new one, open this link:\n\n{{ link }}\n\n"
            "The link is valid for {{ link_valid_minutes }} minutes and works once. If it "
            'has expired, ask for a new one with "Forgot password" on the login page.\n'
            "If you did not ask for this, ignore this email: your password stays as it "
            "was.\n\n{{ business_name }}"
        ),
        "html": (
            "<p>Hello {{ first_name }},</p>"
            "<p>we received a request to reset the password of the account "
            "<strong>{{ username }}</strong>.</p>"
            '<p><a href="{{ link }}">Choose a new password</a></p>'
            "<p>The link is valid for {{ link_valid_minutes }} minutes and works once. If "
            "it has expired, ask for a new one with &ldquo;Forgot password&rdquo; on the "
            "login page.</p>"
            "<p>If you did not ask for this, ignore this email: your password stays as it "
            "was.</p><p>{{ business_name }}</p>"
        ),
    },
    ("new_password", "it"): {
        "subject": "{{ business_name }}: la tua nuova password",
        "text": (
            "Ciao {{ first_name }},\n\n"
            "su tua richiesta abbiamo impostato una nuova password per l'account "
            "{{ username }}:\n\n{{ password }}\n\n"
            "È una password temporanea: al primo accesso su {{ portal_url }} ti chiederemo "
            "di sceglierne una tua. Vale {{ password_valid_days }} giorni.\n\n"
            "{{ business_name }}"
        ),
        "html": (
            "<p>Ciao {{ first_name }},</p>"
            "<p>su tua richiesta abbiamo impostato una nuova password per l'account "
            "<strong>{{ username }}</strong>:</p>"
            '<p style="font-family:monospace;font-size:1.2em">{{ password }}</p>'
            "<p>È una password temporanea: al primo accesso su "
            '<a href="{{ portal_url }}">{{ portal_url }}</a> ti chiederemo di sceglierne '
            "una tua. Vale {{ password_valid_days }} giorni.</p><p>{{ business_name }}</p>"
        ),
    },
    ("new_password", "en"): {
        "subject": "{{ business_name }}: your new password",
        "text": (
            "Hello {{ first_name }},\n\n"
            "as requested, we set a new password for the account {{ username }}:\n\n"
            "{{ password }}\n\n"
            "It is temporary: when you next log in at {{ portal_url }} you will be asked to "
            "choose your own. It is valid for {{ password_valid_days }} days.\n\n"
            "{{ business_name }}"
        ),
        "html": (
            "<p>Hello {{ first_name }},</p>"
            "<p>as requested, we set a new password for the account "
            "<strong>{{ username }}</strong>:</p>"
            '<p style="font-family:monospace;font-size:1.2em">{{ password }}</p>'
            '<p>It is temporary: when you next log in at <a href="{{ portal_url }}">'
            "{{ portal_url }}</a> you will be asked to choose your own. It is valid for "
            "{{ password_valid_days }} days.</p><p>{{ business_name }}</p>"
        ),
    },
    ("account_credentials", "it"): {
        "subject": "{{ business_name }}: il tuo accesso al portale",
        "text": (
            "Ciao {{ first_name }},\n\n"
            "ecco i dati per accedere al portale di {{ business_name }}, dove puoi prenotare "
            "e acquistare:\n\n"
            "Portale: {{ portal_url }}\nNome utente: {{ username }}\n\n"
            "Per scegliere la tua password apri questo link:\n\n{{ link }}\n\n"
            "Il link vale {{ link_valid_hours }} ore e si può usare una sola volta.\n\n"
            "{{ business_name }}"
        ),
        "html": (
            "<p>Ciao {{ first_name }},</p>"
            "<p>ecco i dati per accedere al portale di {{ business_name }}, dove puoi "
            "prenotare e acquistare:</p>"
            '<p>Portale: <a href="{{ portal_url }}">{{ portal_url }}</a><br>'
            "Nome utente: <strong>{{ username }}</strong></p>"
            '<p><a href="{{ link }}">Scegli la tua password</a></p>'
            "<p>Il link vale {{ link_valid_hours }} ore e si può usare una sola volta.</p>"
            "<p>{{ business_name }}</p>"
        ),
    },
    ("account_credentials", "en"): {
        "subject": "{{ business_name }}: your portal login",
        "text": (
            "Hello {{ first_name }},\n\n"
            "here is how to log in to the {{ business_name }} portal, where you can book "
            "and buy:\n\n"
            "Portal: {{ portal_url }}\nUsername: {{ username }}\n\n"
            "To choose your password, open this link:\n\n{{ link }}\n\n"
            "The link is valid for {{ link_valid_hours }} hours and works once.\n\n"
            "{{ business_name }}"
        ),
        "html": (
            "<p>Hello {{ first_name }},</p>"
            "<p>here is how to log in to the {{ business_name }} portal, where you can book "
            "and buy:</p>"
            '<p>Portal: <a href="{{ portal_url }}">{{ portal_url }}</a><br>'
            "Username: <strong>{{ username }}</strong></p>"
            '<p><a href="{{ link }}">Choose your password</a></p>'
            "<p>The link is valid for {{ link_valid_hours }} hours and works once.</p>"
            "<p>{{ business_name }}</p>"
        ),
    },
    ("password_changed", "it"): {
        "subject": "{{ business_name }}: la password è stata cambiata",
        "text": (
            "Ciao {{ first_name }},\n\n"
            "la password dell'account {{ username }} è stata cambiata il {{ changed_at }}.\n"
            "Se sei stato tu, non devi fare nulla. Altrimenti reimpostala subito con "
            '"Password dimenticata" su {{ portal_url }} e contattaci.\n\n'
            "{{ business_name }}"
        ),
        "html": (
            "<p>Ciao {{ first_name }},</p>"
            "<p>la password dell'account <strong>{{ username }}</strong> è stata cambiata il "
            "{{ changed_at }}.</p>"
            "<p>Se sei stato tu, non devi fare nulla. Altrimenti reimpostala subito con "
            '&laquo;Password dimenticata&raquo; su <a href="{{ portal_url }}">'
            "{{ portal_url }}</a> e contattaci.</p><p>{{ business_name }}</p>"
        ),
    },
    ("password_changed", "en"): {
        "subject": "{{ business_name }}: your password was changed",
        "text": (
            "Hello {{ first_name }},\n\n"
            "the password of the account {{ username }} was changed on {{ changed_at }}.\n"
            "If this was you, there is nothing to do. If not, reset it now with "
            '"Forgot password" at {{ portal_url }} and contact us.\n\n'
            "{{ business_name }}"
        ),
        "html": (
            "<p>Hello {{ first_name }},</p>"
            "<p>the password of the account <strong>{{ username }}</strong> was changed on "
            "{{ changed_at }}.</p>"
            "<p>If this was you, there is nothing to do. If not, reset it now with "
            '&ldquo;Forgot password&rdquo; at <a href="{{ portal_url }}">{{ portal_url }}'
            "</a> and contact us.</p><p>{{ business_name }}</p>"
        ),
    },
}

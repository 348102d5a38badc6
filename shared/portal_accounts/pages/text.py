"""Every word the customer's pages show, in Italian and English.

`{name}` placeholders are filled with str.format from values the page escapes first.
"""

from __future__ import annotations

LOCALES = ("it", "en")

TEXT: dict[str, dict[str, str]] = {
    "it": {
        "language": "Lingua",
        "skip": "Vai al contenuto",
        "reset_title": "Scegli una nuova password",
        "set_title": "Scegli la tua password",
        "reset_intro": "Per l'account {username}.",
        "set_intro": (
            "Benvenuto! Scegli la password con cui accederai al portale con l'account {username}."
        ),
        "rules_title": "Come sceglierla",
        "rule_length": "Almeno {min_length} caratteri: una frase di più parole va benissimo.",
        "rule_context": ("Senza il tuo nome, il tuo indirizzo email o il nome di {business}."),
        "rule_common": "Non una password comune o facile da indovinare.",
        "password": "Nuova password",
        "password_confirmation": "Ripeti la nuova password",
        "save": "Salva la password",
        "too_short": "La password è troppo corta: servono almeno {min_length} caratteri.",
        "too_long": "La password è troppo lunga.",
        "context_word": (
            "La password contiene il tuo nome, il tuo indirizzo email o il nome "
            "dell'attività: scegline un'altra."
        ),
        "common_or_guessable": (
            "Questa password è troppo facile da indovinare: prova una frase di più parole."
        ),
        "mismatch": "Le due password non coincidono.",
        "reused": "È la password che hai già: scegline una nuova.",
        "required": "Scrivi la password.",
        "errors_summary": "La password non è stata salvata: correggi il campo segnalato.",
        "saved_title": "Password salvata",
        "saved_body": "Da ora accedi al portale con la nuova password.",
        "to_portal": "Vai al portale",
        "invalid_title": "Il link non è più valido",
        "invalid_body": "L'indirizzo che hai aperto non è corretto o non vale più. Succede quando:",
        "invalid_expired": (
            "è passato troppo tempo: un link per cambiare la password vale {reset_minutes} "
            "minuti, quello per scegliere la prima password {set_hours} ore;"
        ),
        "invalid_used": "il link è già stato usato: vale una volta sola;",
        "invalid_replaced": "hai chiesto un'altra email: vale solo il link più recente.",
        "invalid_ask": "Chiedi una nuova email qui sotto.",
        "forgot_title": "Password dimenticata",
        "forgot_intro": (
            "Scrivi l'indirizzo email con cui accedi al portale: ti mandiamo un link per "
            "sceglierne una nuova."
        ),
        "email": "Indirizzo email",
        "send": "Mandami il link",
        "email_invalid": "Scrivi un indirizzo email valido, come nome@esempio.it.",
        "sent_title": "Controlla la tua email",
        "sent_body": (
            "Se {email} è l'indirizzo di un account, ti abbiamo mandato un link per scegliere "
            "una nuova password. Vale {reset_minutes} minuti e si usa una volta sola."
        ),
        "sent_spam": "Se non arriva entro qualche minuto, guarda anche nella posta indesiderata.",
        "busy_title": "Servizio occupato",
        "busy": "Il servizio è momentaneamente occupato: riprova tra qualche istante.",
        "broken_title": "Qualcosa non ha funzionato",
        "broken": "Qualcosa non ha funzionato da parte nostra: riprova più tardi.",
        "bad_request": "La richiesta non è valida: riapri il link dall'email.",
    },
    "en": {
        "language": "Language",
        "skip": "Skip to content",
        "reset_title": "Choose a new password",
        "set_title": "Choose your password",
        "reset_intro": "For the account {username}.",
        "set_intro": (
            "Welcome! Choose the password you will log in to the portal with, for the "
            "account {username}."
        ),
        "rules_title": "How to choose it",
        "rule_length": "At least {min_length} characters: a phrase of several words works well.",
        "rule_context": "Without your name, your email address or the name of {business}.",
        "rule_common": "Not a common password, or one that is easy to guess.",
        "password": "New password",
        "password_confirmation": "Type the new password again",
        "save": "Save the password",
        "too_short": "The password is too short: it needs at least {min_length} characters.",
        "too_long": "The password is too long.",
        "context_word": (
            "The password contains your name, your email address or the business's name: "
            "choose another one."
        ),
        "common_or_guessable": (
            "This password is too easy to guess: try a phrase of several words."
        ),
        "mismatch": "The two passwords do not match.",
        "reused": "That is the password you already have: choose a new one.",
        "required": "Type the password.",
        "errors_summary": "The password was not saved: correct the field marked below.",
        "saved_title": "Password saved",
        "saved_body": "From now on, log in to the portal with your new password.",
        "to_portal": "Go to the portal",
        "invalid_title": "This link is not valid any more",
        "invalid_body": (
            "The address you opened is not correct or no longer valid. It happens when:"
        ),
        "invalid_expired": (
            "too much time has passed: a link to change the password is valid for "
            "{reset_minutes} minutes, one to choose a first password for {set_hours} hours;"
        ),
        "invalid_used": "the link has been used already: it works only once;",
        "invalid_replaced": "you asked for another email: only the newest link works.",
        "invalid_ask": "Ask for a new email below.",
        "forgot_title": "Forgot your password?",
        "forgot_intro": (
            "Type the email address you log in to the portal with: we will send you a link "
            "to choose a new password."
        ),
        "email": "Email address",
        "send": "Send me the link",
        "email_invalid": "Type a valid email address, such as name@example.com.",
        "sent_title": "Check your email",
        "sent_body": (
            "If {email} is the address of an account, we have sent it a link to choose a "
            "new password. It is valid for {reset_minutes} minutes and works once."
        ),
        "sent_spam": "If it does not arrive within a few minutes, look in your spam folder too.",
        "busy_title": "Service busy",
        "busy": "The service is busy right now: try again in a moment.",
        "broken_title": "Something went wrong",
        "broken": "Something went wrong on our side: please try again later.",
        "bad_request": "This request is not valid: open the link from the email again.",
    },
}

# The language switch names each language in itself.
NATIVE = {"it": "Italiano", "en": "English"}

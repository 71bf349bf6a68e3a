"""E-mail over SMTP through Django's backend (host, port, TLS and login from settings).

One connection serves a whole batch. The message's uid is its Message-ID and an
``X-CityLoop-Message-Id`` header, so a receiver can drop a second copy.
"""

from __future__ import annotations

import smtplib

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from cityloop.notify.channels.base import Outgoing, Refused, Retry


class Email:
    name = "email"
    one_endpoint = True

    def __init__(self) -> None:
        self._connection = None

    def _open(self):
        if self._connection is None:
            self._connection = get_connection(fail_silently=False)
            try:
                self._connection.open()
            except (OSError, smtplib.SMTPException) as exc:
                self._connection = None
                raise Retry(
                    f"SMTP server unreachable, or it refused our TLS or login: {exc}", unreachable=True
                ) from exc
        return self._connection

    def send(self, message: Outgoing) -> None:
        connection = self._open()
        mail = EmailMessage(
            subject=message.subject,
            body=message.body,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[message.address],
            headers={
                "Message-ID": f"<{message.uid}@cityloop>",
                "X-CityLoop-Message-Id": message.uid,
                "X-CityLoop-Event": message.event,
            },
            connection=connection,
        )
        try:
            mail.send()
        except smtplib.SMTPRecipientsRefused as exc:
            raise Refused(f"the SMTP server refused {message.address}: {exc.recipients}") from exc
        except smtplib.SMTPResponseException as exc:
            if 500 <= exc.smtp_code < 600 and exc.smtp_code != 503:  # 503: our session's order, not the mail
                raise Refused(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
            self.close()
            raise Retry(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}") from exc
        except smtplib.SMTPException as exc:  # the session broke (SMTPServerDisconnected…)
            self.close()
            raise Retry(f"SMTP: {exc}") from exc
        except OSError as exc:  # the connection itself (reset, timeout): the server is gone
            self.close()
            raise Retry(f"SMTP: {exc}", unreachable=True) from exc

    def close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except (OSError, smtplib.SMTPException):
                pass
            self._connection = None

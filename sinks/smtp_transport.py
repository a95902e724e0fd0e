"""Sending one message over SMTP with smtplib in a worker thread.

SMTP replies sort like HTTP ones: 4xx and a lost connection before the
final dot are retryable; 5xx is final. A connection lost after the final
dot is uncertain: the relay may have queued the message.
"""

from __future__ import annotations

import asyncio
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage

from sinks.delivery import DeliveryFailed


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str
    port: int = 25
    security: str = "starttls"  # none | starttls | tls
    username: str | None = None
    password: str | None = None
    timeout: float = 30.0
    local_hostname: str | None = None
    tls_context: ssl.SSLContext | None = None


def _failure(code: int, text: bytes | str, stage: str) -> DeliveryFailed:
    reply = text.decode(errors="replace") if isinstance(text, bytes) else text
    return DeliveryFailed(
        f"SMTP {code} at {stage}" + ("" if 400 <= code < 500 else " (not retried)"),
        retryable=400 <= code < 500,
        status=code,
        response=f"{code} {reply}"[:2000],
    )


class SmtpTransport:
    """One connection per message: relays handle it well and nothing stays half-open."""

    def __init__(self, settings: SmtpSettings) -> None:
        self._settings = settings

    async def send(self, message: EmailMessage, sender: str, recipients: list[str]) -> str:
        return await asyncio.to_thread(self._send, message, sender, recipients)

    def _send(self, message: EmailMessage, sender: str, recipients: list[str]) -> str:
        settings = self._settings
        context = settings.tls_context or ssl.create_default_context()
        stage = "connect"
        try:
            client: smtplib.SMTP
            if settings.security == "tls":
                client = smtplib.SMTP_SSL(
                    settings.host,
                    settings.port,
                    local_hostname=settings.local_hostname,
                    timeout=settings.timeout,
                    context=context,
                )
            else:
                client = smtplib.SMTP(
                    settings.host,
                    settings.port,
                    local_hostname=settings.local_hostname,
                    timeout=settings.timeout,
                )
            with client:
                stage = "ehlo"
                client.ehlo()
                if settings.security == "starttls":
                    stage = "starttls"
                    client.starttls(context=context)
                    client.ehlo()
                if settings.username and settings.password:
                    stage = "auth"
                    client.login(settings.username, settings.password)
                stage = "data"
                refused = client.send_message(message, sender, recipients)
                stage = "quit"
        except smtplib.SMTPRecipientsRefused as exc:
            code, text = next(iter(exc.recipients.values()))
            raise _failure(code, text, "rcpt") from exc
        except smtplib.SMTPResponseException as exc:
            if stage == "quit":
                return "sent (QUIT failed)"
            raise _failure(exc.smtp_code, exc.smtp_error, stage) from exc
        except smtplib.SMTPServerDisconnected as exc:
            if stage == "quit":
                return "sent (connection closed at QUIT)"
            raise DeliveryFailed(
                f"SMTP connection lost at {stage}", retryable=True, uncertain=stage == "data"
            ) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise DeliveryFailed(
                f"SMTP {stage} failed: {exc}", retryable=True, uncertain=stage == "data"
            ) from exc
        if refused:
            return f"sent; refused by some recipients: {', '.join(sorted(refused))}"
        return "sent"

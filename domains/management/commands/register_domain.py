"""python manage.py register_domain acme.com --admin-email hq@acme.com"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from domains.services import domain_register


class Command(BaseCommand):
    help = "Register a domain and e-mail its primary admin an invitation to choose a password."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("domain", help="The domain, such as acme.com.")
        parser.add_argument(
            "--admin-email",
            required=True,
            help="The primary admin's e-mail address, in the domain.",
        )

    def handle(self, *args: Any, domain: str, admin_email: str, **options: Any) -> None:
        try:
            registered = domain_register(name=domain, admin_email=admin_email)
        except ValidationError as exc:
            labels = {"name": "domain", "admin_email": "--admin-email"}
            raise CommandError(
                "; ".join(
                    f"{labels.get(field, field)}: {' '.join(messages)}"
                    for field, messages in exc.message_dict.items()
                )
            ) from None
        self.stdout.write(
            self.style.SUCCESS(
                f"Registered {registered.name}. An invitation to choose a password was e-mailed "
                f"to {admin_email.strip().lower()}."
            )
        )

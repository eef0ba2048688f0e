"""Create the embedded mode's demo: a registered domain, its admin, a support
superuser and a little inventory. Safe to run again: it never duplicates."""

from __future__ import annotations

import json
import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from domains import services
from domains.models import Domain, User

DEMO_DOMAIN = "acme.test"
DEMO_ADMIN = "admin@acme.test"
DEMO_SUPPORT = "support@camio-portal.test"
BOX = {"name": "Lobby Box", "mac_address": "B8:27:EB:12:34:56"}
# name, IP address, maker, model, zone polygons (or None: no zone)
CAMERAS: list[tuple[str, str, str, str, list[Any] | None]] = [
    ("Front Entrance", "192.168.1.21", "Axis", "P3245-V", [[[0.1, 0.2], [0.6, 0.2], [0.6, 0.9]]]),
    ("Loading Dock", "192.168.1.22", "Hanwha", "XNO-6080R", [[[0, 0], [1, 0], [1, 0.5], [0, 0.5]]]),
    ("Rooftop", "192.168.1.23", "Reolink", "RLC-810A", None),
]


class Command(BaseCommand):
    help = "Create (once) the demo domain, its admin, a support superuser and demo inventory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--credentials-file",
            type=Path,
            help="Where the generated sign-ins are kept (default: DATA_DIR/demo-credentials.json).",
        )
        parser.add_argument("--show", action="store_true", help="Only print the saved sign-ins.")
        parser.add_argument(
            "--token", action="store_true", help="Only print the demo admin's API token."
        )
        parser.add_argument(
            "--box-token", action="store_true", help="Only print the demo Box's token."
        )

    def handle(
        self,
        *args: Any,
        credentials_file: Path | None,
        show: bool,
        token: bool,
        box_token: bool,
        **options: Any,
    ) -> None:
        path = credentials_file or Path(settings.DATA_DIR) / "demo-credentials.json"
        if token or box_token:
            self.stdout.write(self.saved_token(path, "box_token" if box_token else "api_token"))
            return
        if not show and not Domain.objects.filter(name=DEMO_DOMAIN).exists():
            self.save(path, self.create_demo())
            if options["verbosity"]:
                self.stdout.write(self.style.SUCCESS(f"Created demo domain {DEMO_DOMAIN}."))
        elif not show and path.exists() and "api_token" not in json.loads(path.read_text()):
            # A data folder from before the API: give its admin a token too.
            admin_user = User.objects.filter(email=DEMO_ADMIN).first()
            if admin_user is not None:
                self.save(path, {**json.loads(path.read_text()), **self.api_token(admin_user)})
        if show or options["verbosity"]:
            self.print_credentials(path)

    @staticmethod
    def saved_token(path: Path, kind: str) -> str:
        """Return the demo's saved token of ``kind``, or say what is missing."""
        if not path.exists():
            raise CommandError(
                f"No demo sign-ins at {path}: the demo is created by `make run` "
                "(`camio-portal run`) in its data folder. Run this in the folder the portal "
                "was started in, or set CAMIO_DATA_DIR to that folder's data/."
            )
        saved = json.loads(path.read_text())
        if kind not in saved:
            raise CommandError(
                f"{path} has no {kind.replace('_', ' ')} (an older demo); support staff "
                "issue one in the admin, under API tokens."
            )
        return saved[kind]["token"]

    @staticmethod
    def save(path: Path, credentials: dict) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(credentials, handle, indent=2)

    @staticmethod
    def api_token(admin_user: User) -> dict[str, dict[str, str]]:
        _, raw = services.token_issue(kind="user", user=admin_user, name="demo", actor=None)
        tokens = {"api_token": {"email": admin_user.email, "token": raw}}
        box = admin_user.devices.order_by("created_at").first()
        if box is not None:
            _, box_raw = services.token_issue(
                kind="box", user=admin_user, name="demo Box", device=box, actor=None
            )
            tokens["box_token"] = {"device_id": box.device_id, "token": box_raw}
        return tokens

    @transaction.atomic
    def create_demo(self) -> dict[str, dict[str, str]]:
        support_password = secrets.token_urlsafe(12)
        admin_password = secrets.token_urlsafe(12)
        support = User.objects.filter(email=DEMO_SUPPORT).first() or services.user_create(
            email=DEMO_SUPPORT,
            password=support_password,
            name="Support",
            is_staff=True,
            is_superuser=True,
        )
        domain = services.domain_register(
            name=DEMO_DOMAIN, admin_email=DEMO_ADMIN, actor=support, invite=False
        )
        admin_user = User.objects.get(email=DEMO_ADMIN)
        admin_user.set_password(admin_password)
        admin_user.name = "Acme HQ"
        admin_user.save(update_fields=["password", "name"])
        box = services.device_create(owner=admin_user, actor=support, **BOX)
        hexmac = BOX["mac_address"].replace(":", "")
        for index, (name, ip, maker, model, polygons) in enumerate(CAMERAS):
            camera = services.camera_create(
                owner=admin_user, device=box, name=name, ip_address=ip, maker=maker, model=model,
                local_camera_id=f"{hexmac}.{index}", actor=support,
            )
            if polygons:
                services.zone_create(
                    camera=camera, name=f"{name} zone", polygons=polygons, actor=support
                )
        services.domain_update(
            domain=domain, actor=support, min_upload_queue_length_for_incident_creation=50
        )
        return {
            "support": {"email": DEMO_SUPPORT, "password": support_password, "url": "/admin/"},
            "domain_admin": {"email": DEMO_ADMIN, "password": admin_password, "url": "/domains"},
            **self.api_token(admin_user),
        }

    def print_credentials(self, path: Path) -> None:
        if not path.exists():
            self.stdout.write(
                f"No saved demo sign-ins at {path}; set passwords with "
                "`manage.py changepassword EMAIL`."
            )
            return
        saved = json.loads(path.read_text())
        for role, label in (("support", "Support staff"), ("domain_admin", "Domain admin")):
            entry = saved[role]
            self.stdout.write(
                f"  {label:14} {entry['email']}  password: {entry['password']}  "
                f"({settings.PORTAL_URL}{entry['url']})"
            )
        if "api_token" in saved:
            self.stdout.write(
                f"  {'API token':14} {saved['api_token']['token']}  "
                f"(Authorization: token ...; {settings.PORTAL_URL}/api/docs/)"
            )
        if "box_token" in saved:
            self.stdout.write(
                f"  {'Box token':14} {saved['box_token']['token']}  "
                f"(Lobby Box {saved['box_token']['device_id']}: counter reports)"
            )

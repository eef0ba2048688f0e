"""Re-encrypt every encrypted value with the first key of FIELD_ENCRYPTION_KEYS."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from callbacks.services.key_rotation import Rotation, encrypted_fields, rotate_model


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted value (endpoint secrets and headers) with the first key "
        "of FIELD_ENCRYPTION_KEYS; once it reports none left, the other keys may be removed. "
        "Safe to interrupt and run again."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction.")

    def handle(self, *args: Any, batch_size: int, **options: Any) -> None:
        done = Rotation()
        work = [(model, names, model._base_manager.count()) for model, names in encrypted_fields()]
        total = sum(count for _, _, count in work)
        # A bar on a terminal; silent when stderr is a file or a job runner's pipe.
        stream = getattr(self.stderr, "_out", self.stderr)
        with tqdm(total=total, unit="rows", file=stream, disable=None, mininterval=0.5) as bar:
            for model, names, _ in work:
                for _ in rotate_model(model, names, batch_size, done):
                    bar.update(done.rows - bar.n)
        self.stdout.write(
            f"Re-encrypted {done.rotated} values with the first key; {done.current} were "
            f"already under it ({done.rows} rows)."
        )
        if done.unreadable:
            shown = ", ".join(f"{label} {pk} {name}" for label, pk, name in done.unreadable[:10])
            raise CommandError(
                f"{len(done.unreadable)} values are readable by no key in "
                f"FIELD_ENCRYPTION_KEYS ({shown}); put back the key that wrote them."
            )
        self.stdout.write(
            "Every encrypted value is under the first key: the keys after it in "
            "FIELD_ENCRYPTION_KEYS may now be removed."
        )

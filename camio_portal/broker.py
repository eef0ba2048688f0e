"""kombu's filesystem transport, with messages written atomically.

The stock transport creates a message file and then writes it; a worker that
lists the folder in between reads an empty file and stops with a JSON error.
Here each message is written to a temporary name and renamed into place, so a
reader only ever sees whole messages.
"""

from __future__ import annotations

import os
import uuid
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps


class Channel(filesystem.Channel):
    # The signature of kombu's filesystem Channel._put, which differs from its virtual
    # base's _put(queue, message); the kombu stubs mark the stock override the same way.
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + ".part"  # never matches "<queue>.msg", so readers skip it
        try:
            with open(partial, "wb") as handle:
                handle.write(str_to_bytes(dumps(payload)))
            os.replace(partial, final)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc


class FilesystemTransport(filesystem.Transport):
    Channel = Channel


TRANSPORT = "camio_portal.broker:FilesystemTransport"

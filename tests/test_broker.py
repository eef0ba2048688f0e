"""The embedded broker writes whole messages only (no reader ever sees a partial file)."""

import os

from kombu import Connection

from camio_portal.broker import TRANSPORT


def test_messages_are_renamed_into_place(tmp_path):
    options = {"data_folder_in": str(tmp_path), "data_folder_out": str(tmp_path),
               "processed_folder": str(tmp_path / "done"), "store_processed": False}
    with Connection("filesystem://", transport=TRANSPORT, transport_options=options) as conn:
        queue = conn.SimpleQueue("probe")
        queue.put({"n": 1})
        names = os.listdir(tmp_path)
        assert [n for n in names if n.endswith(".part")] == []
        assert any(n.endswith(".probe.msg") for n in names)
        assert queue.get(timeout=1).payload == {"n": 1}
        queue.close()

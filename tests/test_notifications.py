"""The outbox's notifications: one per channel of the endpoints with new work, sent on
commit; each delivery worker listens to its share of the channels."""

import uuid

import pytest
from django.db import transaction

from callbacks.delivery.outbox import CHANNEL, CHANNELS, wake
from callbacks.delivery.shares import Claimer, channels
from callbacks.publishing import publish

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_publish_notifies_the_channel_of_each_endpoint_on_commit(acme, endpoint_for,
                                                                    listening):
    first = endpoint_for("https://hooks.acme.com/a", ["camera.created"])
    second = endpoint_for("https://hooks.acme.com/b", ["camera.created"])
    with transaction.atomic():
        publish(domain=acme, type="camera.created", object={"n": 1})
        assert listening() == []  # nothing before the commit
    expected: dict[str, list[int]] = {}
    for pk in (first.pk, second.pk):
        expected.setdefault(f"{CHANNEL}_{pk % CHANNELS}", []).append(pk)
    assert listening() == sorted(
        (channel, ",".join(map(str, sorted(pks)))) for channel, pks in expected.items())


def test_a_rolled_back_publish_notifies_nobody(acme, endpoint_for, listening):
    endpoint_for("https://hooks.acme.com/a", ["camera.created"])
    with pytest.raises(RuntimeError), transaction.atomic():
        publish(domain=acme, type="camera.created", object={"n": 1})
        raise RuntimeError("rolled back")
    assert listening() == []


def test_too_many_endpoints_on_one_channel_say_look_everywhere(listening):
    many = [CHANNELS * n + 3 for n in range(501)]
    wake([*many, 4])
    assert listening() == [(f"{CHANNEL}_3", "*"), (f"{CHANNEL}_4", "4")]


def test_each_live_worker_listens_to_its_share_of_the_channels():
    peers = sorted(uuid.uuid4() for _ in range(3))
    shares = []
    for worker in peers:
        claimer = Claimer.__new__(Claimer)  # no thread: only the arithmetic
        claimer.worker, claimer.peers = worker, peers
        shares.append(set(channels(claimer)))
    assert set().union(*shares) == set(range(CHANNELS))
    assert sum(len(share) for share in shares) == CHANNELS  # no channel heard twice
    stranger = Claimer.__new__(Claimer)
    stranger.worker, stranger.peers = uuid.uuid4(), peers
    assert set(channels(stranger)) == set(range(CHANNELS))  # not yet a peer: all

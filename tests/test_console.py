"""The console of ``make run`` (P18): quiet unless --verbose, and e-mails as framed blocks
that stand out from log lines."""

from __future__ import annotations

import os

import pytest

from camio_portal import launcher


@pytest.mark.django_db
def test_an_invitation_prints_as_a_framed_block_with_its_link_whole(
    settings, acme, acme_admin, capsys, django_capture_on_commit_callbacks
):
    from domains import services

    settings.EMAIL_BACKEND = "camio_portal.mail.FramedConsoleBackend"
    user = services.user_create(email="night.shift@acme.com", actor=None)
    with django_capture_on_commit_callbacks(execute=True):
        link = services.invitation_send(user=user, domain=acme, actor=acme_admin)
    printed = capsys.readouterr().out.strip().splitlines()
    assert printed[0].startswith("╔══ E-mail, printed here instead of sent ")
    assert printed[-1].startswith("╚═")
    assert all(line.startswith("║") for line in printed[1:-1])
    assert "║ To: night.shift@acme.com" in printed
    assert any(line == f"║ {link}" or line.endswith(link) for line in printed), printed


def test_the_default_console_is_quiet_and_verbose_says_everything(monkeypatch):
    for name in ("LOG_LEVEL", "CAMIO_QUIET"):
        monkeypatch.delenv(name, raising=False)
    launcher.quiet_console(verbose=False)
    assert (os.environ["LOG_LEVEL"], os.environ["CAMIO_QUIET"]) == ("WARNING", "1")
    monkeypatch.delenv("LOG_LEVEL")
    launcher.quiet_console(verbose=True)
    assert os.environ["LOG_LEVEL"] == "INFO" and "CAMIO_QUIET" not in os.environ
    assert launcher.parse_args(["--verbose"]).verbose and not launcher.parse_args([]).verbose

"""Registering a domain: service, command line and admin; bad input writes nothing."""

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from domains import services
from domains.models import AuditEntry, Domain, DomainAdministrator, Invitation, User


def nothing_written():
    return (
        Domain.objects.count(),
        User.objects.count(),
        Invitation.objects.count(),
        AuditEntry.objects.count(),
    )


@pytest.mark.django_db
def test_register_creates_domain_admin_and_invitation(register):
    domain = register("ACME.com", "HQ@acme.com")
    assert domain.name == "acme.com" and domain.registered and domain.registered_at
    admin = User.objects.get(email="hq@acme.com")
    assert admin.domain == domain
    assert not admin.has_usable_password()
    assert DomainAdministrator.objects.get(domain=domain, user=admin).is_primary
    assert Domain.objects.administered_by(admin).get() == domain
    [message] = mail.outbox
    assert message.to == ["hq@acme.com"]
    assert "/invitations/" in message.body
    assert AuditEntry.objects.filter(action="domain.registered", domain=domain).exists()


@pytest.mark.django_db
def test_existing_users_of_the_domain_join_it(register):
    early = services.user_create(email="early@acme.com")
    assert early.domain is None
    domain = register("acme.com", "hq@acme.com")
    early.refresh_from_db()
    assert early.domain == domain
    later = services.user_create(email="later@acme.com")
    assert later.domain == domain


@pytest.mark.django_db
def test_register_via_command_line(django_capture_on_commit_callbacks, capsys):
    with django_capture_on_commit_callbacks(execute=True):
        call_command("register_domain", "acme.com", "--admin-email", "hq@acme.com")
    assert "Registered acme.com" in capsys.readouterr().out
    assert Domain.objects.get(name="acme.com").registered
    assert mail.outbox[0].to == ["hq@acme.com"]


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("name", "email", "field", "message"),
    [
        ("gmail.com", "someone@gmail.com", "name", "public e-mail domain"),
        ("not a domain", "a@b.com", "name", "is not a valid domain name"),
        ("acme", "hq@acme", "name", "is not a valid domain name"),
        ("-acme.com", "hq@acme.com", "name", "is not a valid domain name"),
        ("acme.com", "hq@elsewhere.com", "admin_email", "must be in acme.com"),
        ("acme.com", "not-an-email", "admin_email", "is not a valid e-mail address"),
    ],
)
def test_bad_registration_is_refused_and_writes_nothing(name, email, field, message):
    before = nothing_written()
    with pytest.raises(ValidationError) as caught:
        services.domain_register(name=name, admin_email=email)
    assert message in " ".join(caught.value.message_dict[field])
    assert nothing_written() == before
    assert mail.outbox == []


@pytest.mark.django_db
def test_duplicate_domain_is_refused(acme):
    before = nothing_written()
    with pytest.raises(ValidationError) as caught:
        services.domain_register(name="Acme.COM", admin_email="other@acme.com")
    assert caught.value.message_dict["name"] == ["acme.com is already registered."]
    assert nothing_written() == before


@pytest.mark.django_db
def test_command_line_refusals_name_the_field(acme):
    with pytest.raises(CommandError, match=r"domain: gmail.com is a public e-mail domain"):
        call_command("register_domain", "gmail.com", "--admin-email", "x@gmail.com")
    with pytest.raises(CommandError, match=r"domain: acme.com is already registered"):
        call_command("register_domain", "acme.com", "--admin-email", "x@acme.com")
    with pytest.raises(CommandError, match=r"--admin-email: The primary admin's e-mail must be in"):
        call_command("register_domain", "new.com", "--admin-email", "x@acme.com")
    assert not Domain.objects.filter(name__in=["gmail.com", "new.com"]).exists()


@pytest.mark.django_db
def test_co_admins_must_be_users_of_the_domain(acme, acme_admin, acme_teammate, beta_admin):
    services.domain_admin_add(domain=acme, user=acme_teammate, actor=acme_admin)
    assert Domain.objects.administered_by(acme_teammate).get() == acme
    with pytest.raises(ValidationError, match=r"is not a user of acme\.com"):
        services.domain_admin_add(domain=acme, user=beta_admin, actor=acme_admin)
    with pytest.raises(ValidationError, match="primary admin cannot be removed"):
        services.domain_admin_remove(domain=acme, user=acme_admin, actor=acme_admin)
    services.domain_admin_remove(domain=acme, user=acme_teammate, actor=acme_admin)
    assert not Domain.objects.administered_by(acme_teammate).exists()


@pytest.mark.django_db
def test_domain_name_lowercase_is_enforced_by_the_database(acme):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Domain.objects.create(name="UPPER.com")

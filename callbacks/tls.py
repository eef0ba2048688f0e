"""Mutual TLS for an endpoint: its client certificate and key, and a CA bundle to verify
the receiver with (docs/callbacks.md, "Client certificates (mTLS)").

``clean_client_certificate`` and ``clean_ca_bundle`` judge what a domain admin uploads
and say what is wrong in words; ``client_context`` builds the SSL context the transport
sends with. Python's ``ssl`` reads a key only from a file: the decrypted key goes into an
anonymous memory file (memfd, never on disk) that is closed as soon as it is loaded.

Validation (forms, API) and the delivery engine stand on this module; it imports neither.
"""

from __future__ import annotations

import datetime
import os
import ssl
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from django.core.exceptions import ValidationError

PEM_MAX_BYTES = 64 * 1024


@dataclass(frozen=True)
class ClientCertificate:
    certificate: str  # PEM: the leaf, then any intermediates
    key: str  # PEM, unencrypted (stored encrypted with the field keys)
    fingerprint: str  # SHA-256 of the leaf, colon-separated hex
    expires_at: datetime.datetime
    subject: str


def _certificates(pem: str, what: str) -> list[x509.Certificate]:
    if len(pem) > PEM_MAX_BYTES:
        raise ValidationError(f"The {what} is too large (at most {PEM_MAX_BYTES // 1024} KB).")
    if "-----BEGIN CERTIFICATE-----" not in pem:
        raise ValidationError(f"The {what} is not PEM: paste or upload the text that starts "
                              "with -----BEGIN CERTIFICATE-----.")
    try:
        return x509.load_pem_x509_certificates(pem.encode())
    except ValueError:
        raise ValidationError(f"The {what} is not a readable PEM certificate.") from None


def clean_client_certificate(certificate: str, key: str,
                             now: datetime.datetime | None = None) -> ClientCertificate:
    """Check a client certificate (PEM, the leaf first) and its private key (PEM, not
    encrypted): both readable, the key the certificate's, the certificate valid now."""
    certificate, key = (certificate or "").strip(), (key or "").strip()
    if not certificate or not key:
        raise ValidationError("Give both the client certificate and its private key (PEM).")
    leaf = _certificates(certificate, "client certificate")[0]
    if len(key) > PEM_MAX_BYTES or "PRIVATE KEY-----" not in key:
        raise ValidationError("The private key is not PEM: paste or upload the text that "
                              "starts with -----BEGIN PRIVATE KEY----- (or RSA/EC PRIVATE "
                              "KEY).")
    try:
        private = serialization.load_pem_private_key(key.encode(), password=None)
    except TypeError:
        raise ValidationError("The private key is encrypted: give it without a "
                              "passphrase (it is stored encrypted here).") from None
    except ValueError:
        raise ValidationError("The private key is not a readable PEM key.") from None
    raw = serialization.PublicFormat.SubjectPublicKeyInfo
    if (private.public_key().public_bytes(serialization.Encoding.DER, raw)
            != leaf.public_key().public_bytes(serialization.Encoding.DER, raw)):
        raise ValidationError("The private key does not match the certificate: they are not "
                              "one pair.")
    now = now or datetime.datetime.now(datetime.UTC)
    if leaf.not_valid_after_utc <= now:
        raise ValidationError(f"The certificate expired on "
                              f"{leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC.")
    if leaf.not_valid_before_utc > now:
        raise ValidationError(f"The certificate is not valid before "
                              f"{leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC.")
    fingerprint = leaf.fingerprint(hashes.SHA256()).hex(":").upper()
    return ClientCertificate(certificate + "\n", key + "\n", fingerprint,
                             leaf.not_valid_after_utc, leaf.subject.rfc4514_string())


def clean_ca_bundle(pem: str) -> str:
    """Check a CA bundle (PEM certificates); '' for none."""
    pem = (pem or "").strip()
    if not pem:
        return ""
    _certificates(pem, "CA bundle")
    return pem + "\n"


def client_context(certificate: str | None, key: str | None,
                   ca_bundle: str | None) -> ssl.SSLContext | None:
    """The SSL context for an endpoint: its CA bundle (in place of the system's) and its
    client certificate; None when it has neither (the default context applies)."""
    if not (certificate and key) and not ca_bundle:
        return None
    context = ssl.create_default_context(cadata=ca_bundle or None)
    if certificate and key:
        descriptor = os.memfd_create("camio-client-key", os.MFD_CLOEXEC)
        try:
            os.write(descriptor, (certificate + key).encode())
            context.load_cert_chain(f"/proc/self/fd/{descriptor}")
        finally:
            os.close(descriptor)  # the memory file is gone with its last descriptor
    return context

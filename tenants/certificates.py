"""The key pair and self-signed certificate for the OAuth 2.0 JWT bearer flow.

We generate both so the admin only uploads the certificate to the Connected App; the private key
never leaves Switchboard (it is stored encrypted).
"""

from __future__ import annotations

import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

CERTIFICATE_VALIDITY = datetime.timedelta(days=730)


def generate_key_pair(common_name: str) -> tuple[str, str]:
    """Return ``(private key PEM, certificate PEM)``: RSA 2048, SHA-256, valid for two years."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, common_name[:64]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Switchboard"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + CERTIFICATE_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    return private_pem, certificate.public_bytes(serialization.Encoding.PEM).decode()


def certificate_expiry(certificate_pem: str) -> datetime.datetime | None:
    try:
        return x509.load_pem_x509_certificate(certificate_pem.encode()).not_valid_after_utc
    except ValueError:
        return None


def private_key_matches_certificate(private_pem: str, certificate_pem: str) -> bool:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    # The DER SubjectPublicKeyInfo is equal exactly when the public numbers are, for every key type
    # (public_numbers() exists only on RSA, DSA and EC keys).
    spki = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return key.public_key().public_bytes(*spki) == cert.public_key().public_bytes(*spki)

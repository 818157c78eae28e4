#!/usr/bin/env python3
"""A software WebAuthn authenticator and client for the API tests, independent of authyy's code
(PyPI's cryptography and cbor2). It answers a server's options as a browser hands a credential to
the page (PublicKeyCredential.toJSON()), with switches that break each rule the server checks.

    python3 authenticator.py create < request.json   # a registration
    python3 authenticator.py get < request.json      # an assertion

create's request: {"options": <publicKey creation options>, "origin", "alg": -7|-257,
  "fmt": "none"|"packed"|"packed-full", optional "flags", "rp_id", "challenge", "type",
  "cross_origin", "sign_count", "tamper", "credential_id", "none_statement", "statement_alg",
  and the certificate's switches (attestation_certificate)}
  -> {"credential": {...}, "key": {"pem", "alg", "credential_id", "user_handle", "sign_count"}}
get's request: {"options": <publicKey request options>, "origin", "key": <create's key>, optional
  "sign_count", "flags", "rp_id", "challenge", "type", "tamper", "user_handle"}
  -> {"credential": {...}}
"""
import base64
import datetime
import hashlib
import json
import os
import sys

import cbor2
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

UP, UV, BE, AT = 0x01, 0x04, 0x08, 0x40
ES256, RS256 = -7, -257


def b64u(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64u(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def new_key(alg):
    return ec.generate_private_key(ec.SECP256R1()) if alg == ES256 else rsa.generate_private_key(65537, 2048)


def cose_key(private, alg):
    numbers = private.public_key().public_numbers()
    if alg == ES256:
        return {1: 2, 3: ES256, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
    n = numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")
    return {1: 3, 3: RS256, -1: n, -2: numbers.e.to_bytes(3, "big")}


def sign(private, alg, data):
    if alg == ES256:
        return private.sign(data, ec.ECDSA(hashes.SHA256()))
    return private.sign(data, padding.PKCS1v15(), hashes.SHA256())


def client_data(req, kind, challenge):
    return json.dumps({
        "type": req.get("type", kind),
        "challenge": req.get("challenge", challenge),
        "origin": req["origin"],
        "crossOrigin": req.get("cross_origin", False),
    }, separators=(",", ":")).encode()


def authenticator_data(req, rp_id, flags, sign_count, attested=b""):
    rp_hash = hashlib.sha256(req.get("rp_id", rp_id).encode()).digest()
    return rp_hash + bytes([req.get("flags", flags)]) + req.get("sign_count", sign_count).to_bytes(4, "big") + attested


SUBJECT = {"C": (NameOID.COUNTRY_NAME, "US"), "O": (NameOID.ORGANIZATION_NAME, "Test Authenticators"),
           "OU": (NameOID.ORGANIZATIONAL_UNIT_NAME, None), "CN": (NameOID.COMMON_NAME, "Test Attestation")}


def attestation_certificate(req, aaguid):
    """A packed attestation certificate (self-signed: no trust anchor is checked), as the
    request's `cert_*` switches break it: `cert_unit`, `cert_ca`, `cert_names` (which of C, O, OU,
    CN the subject has), `cert_key` (`p256`, `p384` or `rsa`), `cert_aaguid` (hex, the extension's
    AAGUID), `cert_aaguid_critical`, `cert_basic_constraints` (false: none)."""
    kind = req.get("cert_key", "p256")
    key = {"p256": lambda: ec.generate_private_key(ec.SECP256R1()),
           "p384": lambda: ec.generate_private_key(ec.SECP384R1()),
           "rsa": lambda: rsa.generate_private_key(65537, 2048)}[kind]()
    names = req.get("cert_names", ["C", "O", "OU", "CN"])
    name = x509.Name([x509.NameAttribute(SUBJECT[n][0], SUBJECT[n][1] or req.get("cert_unit", "Authenticator Attestation"))
                      for n in names])
    now = datetime.datetime.now(datetime.timezone.utc)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
               .serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=365)))
    if req.get("cert_basic_constraints", True):
        builder = builder.add_extension(x509.BasicConstraints(ca=req.get("cert_ca", False), path_length=None),
                                        critical=True)
    # id-fido-gen-ce-aaguid: an OCTET STRING holding the AAGUID.
    extension = bytes.fromhex(req["cert_aaguid"]) if "cert_aaguid" in req else aaguid
    builder = builder.add_extension(
        x509.UnrecognizedExtension(x509.ObjectIdentifier("1.3.6.1.4.1.45724.1.1.4"), b"\x04\x10" + extension),
        critical=req.get("cert_aaguid_critical", False))
    cert = builder.sign(key, hashes.SHA256())
    return key, cert.public_bytes(serialization.Encoding.DER)


def sign_with_certificate_key(key, data):
    if isinstance(key, rsa.RSAPrivateKey):
        return RS256, key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return ES256, key.sign(data, ec.ECDSA(hashes.SHA256()))


def create(req):
    options = req["options"]
    alg = req.get("alg", ES256)
    private = new_key(alg)
    credential_id = unb64u(req["credential_id"]) if "credential_id" in req else os.urandom(32)
    aaguid = bytes(16)
    attested = aaguid + len(credential_id).to_bytes(2, "big") + credential_id + cbor2.dumps(cose_key(private, alg))
    data = authenticator_data(req, options["rp"]["id"], UP | UV | AT, 0, attested)
    client = client_data(req, "webauthn.create", options["challenge"])
    signed = data + hashlib.sha256(client).digest()
    fmt = req.get("fmt", "none")
    if fmt == "none":
        statement = req.get("none_statement", {})
    elif fmt == "packed":
        statement = {"alg": req.get("statement_alg", alg), "sig": sign(private, alg, signed)}
    else:
        cert_key, cert = attestation_certificate(req, aaguid)
        cert_alg, sig = sign_with_certificate_key(cert_key, signed)
        statement = {"alg": req.get("statement_alg", cert_alg), "sig": sig, "x5c": [cert]}
    if req.get("tamper") and "sig" in statement:
        statement["sig"] = statement["sig"][:-1] + bytes([statement["sig"][-1] ^ 1])
    attestation = cbor2.dumps({"fmt": "packed" if fmt.startswith("packed") else fmt, "attStmt": statement,
                               "authData": data})
    spki = private.public_key().public_bytes(serialization.Encoding.DER,
                                             serialization.PublicFormat.SubjectPublicKeyInfo)
    credential = {
        "id": b64u(credential_id), "rawId": b64u(credential_id), "type": "public-key",
        "authenticatorAttachment": "platform", "clientExtensionResults": {"credProps": {"rk": True}},
        "response": {
            "clientDataJSON": b64u(client), "attestationObject": b64u(attestation),
            "transports": ["hybrid", "internal"], "publicKeyAlgorithm": alg, "publicKey": b64u(spki),
            "authenticatorData": b64u(data),
        },
    }
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    key = {"pem": pem, "alg": alg, "credential_id": b64u(credential_id), "user_handle": options["user"]["id"],
           "sign_count": req.get("sign_count", 0), "rp_id": options["rp"]["id"]}
    return {"credential": credential, "key": key}


def get(req):
    options, key = req["options"], req["key"]
    private = serialization.load_pem_private_key(key["pem"].encode(), password=None)
    data = authenticator_data(req, options["rpId"], UP | UV, key["sign_count"] + 1)
    client = client_data(req, "webauthn.get", options["challenge"])
    signature = sign(private, key["alg"], data + hashlib.sha256(client).digest())
    if req.get("tamper"):
        signature = signature[:-1] + bytes([signature[-1] ^ 1])
    handle = req.get("user_handle", key["user_handle"])
    credential = {
        "id": key["credential_id"], "rawId": key["credential_id"], "type": "public-key",
        "authenticatorAttachment": "platform", "clientExtensionResults": {},
        "response": {
            "clientDataJSON": b64u(client), "authenticatorData": b64u(data), "signature": b64u(signature),
            "userHandle": handle,
        },
    }
    return {"credential": credential}


if __name__ == "__main__":
    request = json.load(sys.stdin)
    json.dump({"create": create, "get": get}[sys.argv[1]](request), sys.stdout)

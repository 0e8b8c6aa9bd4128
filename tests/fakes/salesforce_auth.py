"""The fake org's OAuth 2.0 JWT bearer token endpoint (``POST /services/oauth2/token``).

The client signs ``{iss: consumer key, sub: username, aud: login host URL, exp}`` with RS256
using the private key of the connected app's certificate; the org checks it with the public key
and answers an access token (no refresh token in this flow: the client mints a new one).
"""

import secrets

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.salesforce_wsgi import Answer, Call, json_answer

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_PATH = "/services/oauth2/token"


def new_key_pair() -> tuple[str, rsa.RSAPublicKey]:
    """A fresh RSA key pair: the private key as PKCS8 PEM text, and the public key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return pem.decode("ascii"), key.public_key()


def new_access_token(org_id: str) -> str:
    """An opaque token shaped like Salesforce's (``<org id>!<random>``)."""
    return f"{org_id[:15]}!{secrets.token_urlsafe(48)}"


def _refusal(error: str, description: str) -> Answer:
    return json_answer(400, {"error": error, "error_description": description})


def token_answer(fake, call: Call) -> Answer:
    """Answer a token request posted to ``https://<call.host>``; ``fake`` is the org
    (its public_key, consumer_key, username, org_id, user_id, instance_url, issue_token)."""
    if call.method != "POST":
        return json_answer(405, [{"errorCode": "METHOD_NOT_ALLOWED", "message": "POST only"}])
    form = call.form()
    if form.get("grant_type") != GRANT_TYPE:
        return _refusal("unsupported_grant_type", "grant type not supported")
    audience = f"https://{call.host}"
    try:
        claims = jwt.decode(
            form.get("assertion", ""),
            fake.public_key,
            algorithms=["RS256"],
            audience=audience,
            issuer=fake.consumer_key,
            options={"require": ["exp", "iss", "sub", "aud"]},
        )
    except jwt.PyJWTError:
        return _refusal("invalid_grant", "invalid assertion")
    if claims["sub"] != fake.username:
        return _refusal("invalid_grant", "user hasn't approved this consumer")
    fake.tokens_minted += 1
    return json_answer(
        200,
        {
            "access_token": fake.issue_token(),
            "instance_url": fake.instance_url,
            "id": f"{audience}/id/{fake.org_id}/{fake.user_id}",
            "token_type": "Bearer",
            "scope": "api",
        },
    )

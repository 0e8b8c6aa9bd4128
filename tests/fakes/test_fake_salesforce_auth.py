"""The fake's OAuth 2.0 JWT bearer token endpoint verifies the assertion as Salesforce does."""

import time

import jwt
import pytest
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import SalesforceAuthenticationFailed, SalesforceExpiredSession

from tests.fakes.salesforce import FakeSalesforce
from tests.fakes.salesforce_auth import GRANT_TYPE, new_key_pair

LOGIN = "https://login.salesforce.com"


def assertion(fake, *, key=None, aud=LOGIN, **claims):
    payload = {
        "iss": fake.consumer_key,
        "sub": fake.username,
        "aud": aud,
        "exp": int(time.time()) + 180,
        **claims,
    }
    return jwt.encode(payload, key or fake.private_key_pem, algorithm="RS256")


def post_token(fake, token, host=LOGIN, grant_type=GRANT_TYPE):
    form = {"grant_type": grant_type, "assertion": token}
    return fake.session().post(f"{host}/services/oauth2/token", data=form)


def test_a_good_assertion_gets_a_working_token(fake):
    answer = post_token(fake, assertion(fake))

    assert answer.status_code == 200
    body = answer.json()
    assert set(body) == {"access_token", "instance_url", "id", "token_type", "scope"}
    assert body["instance_url"] == "https://sf.test"
    assert body["id"] == f"{LOGIN}/id/00D5g000000TEST1EAA/{fake.user_id}"
    assert (body["token_type"], body["scope"]) == ("Bearer", "api")
    assert fake.user_id.startswith("005")
    assert fake.tokens_minted == 1
    limits = fake.session().get(
        "https://sf.test/services/data/v62.0/limits",
        headers={"Authorization": f"Bearer {body['access_token']}"},
    )
    assert limits.status_code == 200
    assert post_token(fake, assertion(fake)).json()["access_token"] != body["access_token"]
    assert fake.tokens_minted == 2


@pytest.mark.parametrize("host", ["https://test.salesforce.com", "https://sf.test"])
def test_the_sandbox_login_host_and_the_instance_host_answer_too(fake, host):
    assert post_token(fake, assertion(fake, aud=host), host=host).status_code == 200


def test_the_private_key_is_pkcs8_pem(fake):
    assert fake.private_key_pem.startswith("-----BEGIN PRIVATE KEY-----")


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": "https://test.salesforce.com"},  # not the host it was posted to
        {"iss": "3MVG9SOMEONEELSE"},
        {"exp": int(time.time()) - 60},
        {"key": new_key_pair()[0]},  # signed with another key
    ],
    ids=["audience", "issuer", "expired", "signature"],
)
def test_a_bad_assertion_is_an_invalid_grant(fake, claims):
    answer = post_token(fake, assertion(fake, **claims))

    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_grant", "error_description": "invalid assertion"}
    assert fake.tokens_minted == 0


def test_garbage_and_an_unsigned_assertion_are_invalid_grants(fake):
    unsigned = jwt.encode({"iss": fake.consumer_key, "sub": fake.username}, None, algorithm="none")
    for token in ("not-a-jwt", unsigned):
        assert post_token(fake, token).json()["error"] == "invalid_grant"


def test_an_unknown_user_has_not_approved_the_consumer(fake):
    answer = post_token(fake, assertion(fake, sub="someone@firm.example"))

    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_grant",
        "error_description": "user hasn't approved this consumer",
    }


def test_another_grant_type_is_unsupported(fake):
    answer = post_token(fake, assertion(fake), grant_type="password")

    assert answer.status_code == 400
    assert answer.json() == {
        "error": "unsupported_grant_type",
        "error_description": "grant type not supported",
    }


def test_the_login_hosts_answer_nothing_but_the_token_path(fake):
    answer = fake.session().get(f"{LOGIN}/services/data/")
    assert answer.status_code == 404


def test_simple_salesforce_logs_in_with_the_jwt_flow(fake):
    sf = Salesforce(
        username=fake.username,
        consumer_key=fake.consumer_key,
        privatekey=fake.private_key_pem,
        domain="login",
        version="62.0",
        session=fake.session(),
    )

    assert sf.sf_instance == "sf.test"
    assert sf.restful("limits")["DailyApiRequests"]["Max"] == 5000
    assert fake.tokens_minted == 1
    assert fake.requests[0].host == "login.salesforce.com"


def test_simple_salesforce_reports_a_refused_login(fake):
    other = FakeSalesforce()
    with pytest.raises(SalesforceAuthenticationFailed) as refused:
        Salesforce(
            username=fake.username,
            consumer_key=fake.consumer_key,
            privatekey=other.private_key_pem,
            domain="login",
            version="62.0",
            session=fake.session(),
        )
    assert refused.value.code == "invalid_grant"


def test_expired_tokens_are_refused_with_invalid_session_id(fake, sf, http):
    assert sf.restful("limits")
    fake.expire_tokens()

    with pytest.raises(SalesforceExpiredSession) as expired:
        sf.restful("limits")
    assert expired.value.content == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]
    assert http.get("https://sf.test/services/data/v62.0/limits").status_code == 401
    fresh = post_token(fake, assertion(fake)).json()["access_token"]
    again = fake.session().get(
        "https://sf.test/services/data/v62.0/limits", headers={"Authorization": f"Bearer {fresh}"}
    )
    assert again.status_code == 200


def test_no_or_an_unknown_token_is_refused(fake):
    session = fake.session()
    bare = session.get("https://sf.test/services/data/v62.0/limits")
    made_up = session.get(
        "https://sf.test/services/data/v62.0/limits", headers={"Authorization": "Bearer 00Dx!nope"}
    )

    assert bare.status_code == made_up.status_code == 401
    assert bare.json()[0]["errorCode"] == "INVALID_SESSION_ID"
    assert fake.api_used == 0

"""JWTVerifier: tokens from an identity provider, checked against a PEM key or a JWKS file."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from agui_server import AGUIConfig, create_app
from agui_server.http.auth import JWTVerifier
from tests.support.server import cli_server, running_server
from tests.support.sse import run_input

RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
OTHER_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def pem(key: Any) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def token(key: Any = RSA_KEY, algorithm: str = "RS256", headers: dict[str, Any] | None = None, **claims: Any) -> str:
    body = {"sub": "alice", "exp": int(time.time()) + 300, "aud": "agui", "iss": "https://id.example", **claims}
    return jwt.encode({k: v for k, v in body.items() if v is not None}, key, algorithm=algorithm, headers=headers)


def verifier() -> JWTVerifier:
    return JWTVerifier(pem(RSA_KEY), audience="agui", issuer="https://id.example")


async def status(auth: JWTVerifier, bearer: str | None) -> int:
    headers = {"authorization": f"Bearer {bearer}"} if bearer is not None else {}
    async with running_server(create_app(AGUIConfig(auth=auth))) as base, httpx.AsyncClient(timeout=10) as client:
        return (await client.post(base + "/ag-ui", json=run_input("hi"), headers=headers)).status_code


async def test_a_valid_token_passes_and_names_the_principal() -> None:
    seen = []

    async def agent(input: Any, ctx: Any) -> Any:
        seen.append(ctx.principal)
        yield "ok"

    config = AGUIConfig(auth=verifier(), agent=agent)
    async with running_server(create_app(config)) as base, httpx.AsyncClient(timeout=10) as client:
        response = await client.post(
            base + "/ag-ui", json=run_input("hi"), headers={"authorization": f"Bearer {token(roles=['admin'])}"}
        )
    assert response.status_code == 200
    assert [(p.id, p.is_admin) for p in seen] == [("alice", True)]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(lambda: token(exp=int(time.time()) - 3600), id="expired"),
        pytest.param(lambda: token(exp=None), id="no-expiry"),
        pytest.param(lambda: token(aud="someone-else"), id="wrong-audience"),
        pytest.param(lambda: token(iss="https://evil.example"), id="wrong-issuer"),
        pytest.param(lambda: token(key=OTHER_KEY), id="signed-by-another-key"),
        pytest.param(lambda: token(nbf=int(time.time()) + 3600), id="not-yet-valid"),
        pytest.param(lambda: token(sub=None), id="no-subject"),
        pytest.param(lambda: token(sub="anonymous"), id="reserved-subject"),
        pytest.param(
            lambda: jwt.encode(
                {"sub": "alice", "exp": int(time.time()) + 300, "aud": "agui", "iss": "https://id.example"},
                "a-shared-secret-of-thirty-two-bytes!",
                algorithm="HS256",
            ),
            id="hmac",
        ),
        pytest.param(
            lambda: jwt.encode(
                {"sub": "alice", "exp": int(time.time()) + 300, "aud": "agui", "iss": "https://id.example"},
                None,
                algorithm="none",
            ),
            id="alg-none",
        ),
        pytest.param(lambda: "not.a.token", id="garbage"),
        pytest.param(lambda: None, id="missing"),
    ],
)
async def test_a_bad_token_is_401(bad: Any) -> None:
    assert await status(verifier(), bad()) == 401


async def test_a_jwks_file_picks_the_key_by_kid(tmp_path: Path) -> None:
    keys = []
    for kid, key in (("rsa-1", RSA_KEY), ("ec-1", EC_KEY)):
        jwk = json.loads(
            jwt.algorithms.get_default_algorithms()["RS256" if kid == "rsa-1" else "ES256"].to_jwk(key.public_key())
        )
        keys.append({**jwk, "kid": kid, "use": "sig"})
    jwks = tmp_path / "jwks.json"
    jwks.write_text(json.dumps({"keys": keys}))
    auth = JWTVerifier.from_file(jwks, audience="agui")
    assert await status(auth, token(EC_KEY, "ES256", headers={"kid": "ec-1"})) == 200
    assert await status(auth, token(RSA_KEY, "RS256", headers={"kid": "rsa-1"})) == 200
    assert await status(auth, token(EC_KEY, "ES256", headers={"kid": "rsa-1"})) == 401
    assert await status(auth, token(RSA_KEY, "RS256", headers={"kid": "unknown"})) == 401


def test_symmetric_algorithms_are_refused_at_configuration() -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        JWTVerifier(pem(RSA_KEY), algorithms=("HS256",))


def test_the_command_line_verifies_jwts(tmp_path: Path) -> None:
    key = tmp_path / "public.pem"
    key.write_text(pem(RSA_KEY))
    with cli_server("--auth-jwt-key", str(key), "--auth-jwt-audience", "agui") as base:
        denied = httpx.post(base + "/ag-ui", json=run_input("hi"), timeout=10)
        allowed = httpx.post(
            base + "/ag-ui", json=run_input("hi"), headers={"authorization": f"Bearer {token()}"}, timeout=10
        )
    assert denied.status_code == 401
    assert allowed.status_code == 200

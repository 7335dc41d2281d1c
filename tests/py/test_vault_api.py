"""The vault, users and admin endpoints over HTTP (issue 3): GET/PUT
/ai.json.enc, GET /ai.json, user authentication, /admin/users, provider
discovery and the vault cache (no PBKDF2 on the hot path)."""
from __future__ import annotations

import json

import pytest

from conftest import openssl_encrypt
from helpers import (
    ALICE_KEY, BOB_KEY, EXPIRED_USER_KEY, UNKNOWN_KEY, assert_openai_error, chat_body, direct, model,
    users, vault,
)


def simple_vault(mock_url: str, name: str = "corp", path: str = "a", k: str = "prov-key-A-000000000001") -> dict:
    return vault({name: direct(f"{mock_url}/{path}/v1", [k], [model("m1")])})


def put_raw(srv, text: str | bytes, headers: dict[str, str] | None = None, auth: str | None = "token"):
    hdrs = {"Content-Type": "text/plain", **(headers or {})}
    return srv.request("PUT", "/ai.json.enc", text, hdrs, auth=srv.token if auth == "token" else auth)


def chat(srv, provider: str = "corp", user_key: str = ALICE_KEY, mdl: str = "m1"):
    return srv.request("POST", f"/{provider}/v1/chat/completions", chat_body(mdl), auth=user_key)


# --------------------------------------------------------------------------- GET/PUT /ai.json.enc
def test_get_vault_text_without_vault_is_404_json(make_fresh_server):
    srv = make_fresh_server()
    r = srv.get_vault_text()
    assert_openai_error(r, 404)


def test_put_vault_then_get_returns_text_plain_with_etag_and_if_none_match_gives_304(make_fresh_server, upstream):
    srv = make_fresh_server()
    enc = openssl_encrypt(json.dumps(simple_vault(upstream.url)), srv.token)
    put = put_raw(srv, enc, {"If-None-Match": "*"})
    assert put.status == 201, put.text
    r = srv.get_vault_text()
    assert r.status == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert r.body == enc.encode(), "the stored text is served byte for byte"
    etag = r.headers.get("etag")
    assert etag and etag == put.headers.get("etag")
    r304 = srv.request("GET", "/ai.json.enc", headers={"If-None-Match": etag})
    assert r304.status == 304
    assert r304.body == b""
    # A different ETag gets the full text again.
    r200 = srv.request("GET", "/ai.json.enc", headers={"If-None-Match": '"0000"'})
    assert r200.status == 200 and r200.body == enc.encode()


@pytest.mark.parametrize("shape", ["one-line", "crlf", "no-trailing-newline"])
def test_put_accepts_openssl_text_with_or_without_line_wraps(make_fresh_server, upstream, shape):
    srv = make_fresh_server(users=users())
    enc = openssl_encrypt(json.dumps(simple_vault(upstream.url)), srv.token)
    text = {"one-line": "".join(enc.split()), "crlf": enc.replace("\n", "\r\n"),
            "no-trailing-newline": enc.rstrip("\n")}[shape]
    r = put_raw(srv, text, {"If-None-Match": "*"})
    assert r.status == 201, r.text
    assert srv.get_vault_text().body == text.encode()
    assert chat(srv).status == 200


def test_put_vault_without_bearer_is_401_and_wrong_bearer_is_403_never_echoing_it(make_fresh_server, upstream):
    srv = make_fresh_server()
    enc = openssl_encrypt(json.dumps(simple_vault(upstream.url)), srv.token)
    r = put_raw(srv, enc, auth=None)
    assert_openai_error(r, 401)
    wrong = "wrong-admin-token-SHOULD-NOT-ECHO-7731"
    r = put_raw(srv, enc, auth=wrong)
    assert_openai_error(r, 403)
    assert wrong not in r.text
    assert srv.get_vault_text().status == 404, "nothing stored"


@pytest.fixture
def seeded(make_fresh_server, upstream):
    """A server with users and a stored vault (provider corp → <mock>/a/v1)."""
    srv = make_fresh_server(users=users())
    text = openssl_encrypt(json.dumps(simple_vault(upstream.url)), srv.token)
    r = put_raw(srv, text, {"If-None-Match": "*"})
    assert r.status == 201, r.text
    return srv, text


def assert_still_serves(srv, text: str, upstream) -> None:
    r = srv.get_vault_text()
    assert r.status == 200 and r.body == text.encode(), "previous vault served byte-identical"
    upstream.requests.clear()
    c = chat(srv)
    assert c.status == 200, c.text
    assert [q.path for q in upstream.requests] == ["/a/v1/chat/completions"]
    assert upstream.requests[0].header("authorization") == "Bearer prov-key-A-000000000001"


def test_put_garbage_body_is_400_and_previous_vault_kept(seeded, upstream):
    srv, text = seeded
    for garbage in ["this is not base64 !!!", "U2FsdGVkX1+AAAAAAAAAAA==", ""]:
        r = put_raw(srv, garbage)
        assert_openai_error(r, 400)
    assert_still_serves(srv, text, upstream)


def test_put_vault_encrypted_with_another_token_is_400_and_old_vault_still_routes(seeded, upstream):
    srv, text = seeded
    other = openssl_encrypt(json.dumps(simple_vault(upstream.url, path="b", k="prov-key-B")), "another-token-xyz")
    r = put_raw(srv, other)
    err = assert_openai_error(r, 400)
    assert "another-token-xyz" not in r.text and srv.token not in err["message"]
    assert_still_serves(srv, text, upstream)


def test_put_valid_encryption_of_invalid_ai_json_is_422_with_issue_paths(seeded, upstream):
    srv, text = seeded
    bad = vault({"groq": direct(f"{upstream.url}/g/v1", ["k-ok"], [model("m1", usage="sideways")])})
    bad["providers"]["groq"]["keys"].append({"owner": "nobody"})  # keys[1] without "key"
    r = put_raw(srv, openssl_encrypt(json.dumps(bad), srv.token))
    err = assert_openai_error(r, 422)
    paths = [i["path"] for i in err["issues"]]
    assert "providers.groq.keys[1].key" in paths, err
    assert "providers.groq.models[0].usage" in paths, err
    assert "k-ok" not in r.text, "issues never quote a key"
    assert_still_serves(srv, text, upstream)


def test_put_with_stale_if_match_is_412_and_nothing_stored(seeded, upstream):
    srv, text = seeded
    new = openssl_encrypt(json.dumps(simple_vault(upstream.url, path="b")), srv.token)
    r = put_raw(srv, new, {"If-Match": '"0123456789abcdef0123456789abcdef"'})
    assert_openai_error(r, 412)
    assert_still_serves(srv, text, upstream)


def test_put_with_if_none_match_star_when_a_vault_exists_is_412(seeded, upstream):
    srv, text = seeded
    new = openssl_encrypt(json.dumps(simple_vault(upstream.url, path="b")), srv.token)
    r = put_raw(srv, new, {"If-None-Match": "*"})
    assert_openai_error(r, 412)
    assert srv.get_vault_text().body == text.encode()


def test_put_body_over_one_mib_is_413(seeded, upstream):
    srv, text = seeded
    big = "A" * (1024 * 1024 + 10)
    r = put_raw(srv, big)
    assert_openai_error(r, 413)
    assert srv.get_vault_text().body == text.encode()


def test_good_put_changes_routing_on_the_very_next_request(seeded, upstream):
    srv, text = seeded
    upstream.requests.clear()
    assert chat(srv).status == 200
    assert upstream.requests[-1].path == "/a/v1/chat/completions"
    etag = srv.get_vault_text().headers["etag"]
    new_text = openssl_encrypt(json.dumps(simple_vault(upstream.url, path="b", k="prov-key-B-000000000002")), srv.token)
    r = put_raw(srv, new_text, {"If-Match": etag})
    assert r.status == 200, r.text
    assert r.headers["etag"] != etag
    upstream.requests.clear()
    c = chat(srv)
    assert c.status == 200, c.text
    assert [q.path for q in upstream.requests] == ["/b/v1/chat/completions"]
    assert upstream.requests[0].header("authorization") == "Bearer prov-key-B-000000000002"


def test_replaced_vault_is_kept_as_previous_in_kv(seeded, upstream):
    srv, text = seeded
    assert srv.kv_get("vault:ai.json.enc.previous") is None, "no previous before the first replacement"
    new_text = openssl_encrypt(json.dumps(simple_vault(upstream.url, path="b")), srv.token)
    assert put_raw(srv, new_text).status == 200
    assert srv.kv_get("vault:ai.json.enc.previous") == text.encode()
    assert srv.kv_get("vault:ai.json.enc") == new_text.encode()


# --------------------------------------------------------------------------- GET /ai.json
def test_get_ai_json_returns_exact_decrypted_text_and_needs_the_token(make_fresh_server, upstream):
    srv = make_fresh_server()
    # Unusual key order, unknown fields at every level, odd formatting.
    plaintext = (
        '{"zeta": {"note": "top-level unknown"},\n'
        ' "providers": {"corp": {"models": [{"usage": "chat", "id": "m1", "x-model": [1, 2]}],\n'
        '   "keys": [{"owner": "ops", "key": "prov-key-exact-1", "x-key": true}],\n'
        f'   "endpoint": "{upstream.url}/a/v1", "x-provider": null}}}},\n'
        '  "version": 1}\n'
    )
    json.loads(plaintext)
    enc = openssl_encrypt(plaintext, srv.token)
    assert put_raw(srv, enc, {"If-None-Match": "*"}).status == 201
    r = srv.admin("GET", "/ai.json")
    assert r.status == 200
    assert r.headers["content-type"].startswith("application/json")
    assert r.body == plaintext.encode(), "byte for byte what was encrypted"
    assert_openai_error(srv.request("GET", "/ai.json", auth="not-the-token-1234"), 403)
    assert_openai_error(srv.request("GET", "/ai.json"), 401)


# --------------------------------------------------------------------------- user authentication
@pytest.fixture(scope="module")
def auth_server(make_server, module_upstream):
    return make_server(users=users(), vault=simple_vault(module_upstream.url))


@pytest.mark.parametrize("label, headers, status", [
    ("no_authorization", {}, 401),
    ("basic_scheme", {"Authorization": "Basic x"}, 401),
    ("empty_bearer", {"Authorization": "Bearer "}, 401),
    ("unknown_key", {"Authorization": f"Bearer {UNKNOWN_KEY}"}, 403),
    ("expired_user", {"Authorization": f"Bearer {EXPIRED_USER_KEY}"}, 403),
])
@pytest.mark.parametrize("method, path", [
    ("POST", "/corp/v1/chat/completions"),
    ("POST", "/corp/v1/embeddings"),
    ("GET", "/corp/v1/models"),
    ("GET", "/v1/providers"),
    ("POST", "/v1/chat/completions"),
])
def test_bad_user_credentials_are_refused_without_echo_and_without_upstream_calls(
        auth_server, upstream, label, headers, status, method, path):
    body = {"model": "m1", "messages": [{"role": "user", "content": "hi"}], "input": "x"}
    hdrs = dict(headers)
    if path == "/v1/chat/completions":
        hdrs["X-Host-Final"] = "api.groq.com"
    r = auth_server.request(method, path, body if method == "POST" else None, hdrs)
    assert_openai_error(r, status)
    for secret in (UNKNOWN_KEY, EXPIRED_USER_KEY, ALICE_KEY, "prov-key-A-000000000001"):
        assert secret not in r.text
    assert upstream.requests == [], "an invalid key causes zero upstream requests"


def test_valid_user_key_is_accepted(auth_server, upstream):
    assert auth_server.request("GET", "/v1/providers", auth=ALICE_KEY).status == 200
    assert auth_server.request("GET", "/v1/providers", auth=BOB_KEY).status == 200


# --------------------------------------------------------------------------- /admin/users
def test_admin_users_get_lists_users_without_keys(auth_server):
    r = auth_server.admin("GET", "/admin/users")
    assert r.status == 200
    listed = r.json()["users"]
    assert list(listed) == ["alice", "bob", "old"]
    assert listed["alice"] == {"owner": "Alice", "type": "paid"}
    assert listed["old"]["type"] == "expired"
    for secret in (ALICE_KEY, BOB_KEY, EXPIRED_USER_KEY):
        assert secret not in r.text
    assert all("key" not in u for u in listed.values()), listed
    assert_openai_error(auth_server.request("GET", "/admin/users"), 401)
    assert_openai_error(auth_server.request("GET", "/admin/users", auth=ALICE_KEY), 403)


def test_admin_users_put_adds_a_user_whose_key_works_next_request_and_keeps_omitted_keys(make_fresh_server, upstream):
    srv = make_fresh_server(users=users(), vault=simple_vault(upstream.url))
    new_key = "sk-user-carol-aaaabbbbccccdddd"
    assert srv.request("GET", "/v1/providers", auth=new_key).status == 403
    cur = srv.admin("GET", "/admin/users")
    listed = cur.json()["users"]
    update = {**listed, "carol": {"key": new_key, "type": "paid"}}  # existing users sent without keys
    r = srv.admin("PUT", "/admin/users", update, {"If-Match": cur.headers["etag"]})
    assert r.status == 200, r.text
    assert new_key not in r.text
    assert srv.request("GET", "/v1/providers", auth=new_key).status == 200
    assert srv.request("GET", "/v1/providers", auth=ALICE_KEY).status == 200, "omitted key kept"
    assert srv.request("GET", "/v1/providers", auth=BOB_KEY).status == 200, "omitted key kept"
    assert srv.request("GET", "/v1/providers", auth=EXPIRED_USER_KEY).status == 403
    assert list(srv.get_users()) == ["alice", "bob", "old", "carol"]
    stored = json.loads(srv.kv_get("users"))
    assert stored["alice"]["key"] == ALICE_KEY and stored["carol"]["key"] == new_key


def test_admin_users_put_with_stale_if_match_is_412_and_invalid_update_is_422(make_fresh_server, upstream):
    srv = make_fresh_server(users=users())
    before = srv.kv_get("users")
    listed = srv.get_users()
    r = srv.admin("PUT", "/admin/users", {**listed, "dave": {"key": "sk-user-dave-0000000000000001"}},
                  {"If-Match": '"ffffffffffffffffffffffffffffffff"'})
    assert_openai_error(r, 412)
    etag = srv.admin("GET", "/admin/users").headers["etag"]
    r = srv.admin("PUT", "/admin/users", {**listed, "dave": {"key": "short"}, "erin": {"type": "paid"}},
                  {"If-Match": etag})
    err = assert_openai_error(r, 422)
    paths = [i["path"] for i in err["issues"]]
    assert "dave.key" in paths and "erin.key" in paths, err
    assert "short" not in err["message"]
    assert srv.kv_get("users") == before, "nothing stored"
    assert_openai_error(srv.request("PUT", "/admin/users", listed, auth="wrong-token-0000"), 403)


# --------------------------------------------------------------------------- discovery
GROQ_MODELS = [
    {"id": "llama-3.3-70b-versatile", "object": "model", "active": True, "context_window": 131072,
     "max_completion_tokens": 32768},
    {"id": "nomic-embed-text-v1.5", "object": "model", "active": True, "context_window": 8192,
     "max_completion_tokens": 8192},
    {"id": "whisper-large-v3", "object": "model", "active": True, "context_window": 448,
     "max_completion_tokens": 448},
    {"id": "retired-model", "object": "model", "active": False, "context_window": 4096,
     "max_completion_tokens": 4096},
]


@pytest.fixture(scope="module")
def discover_server(make_server, module_upstream):
    v = vault({"groq": direct(f"{module_upstream.url}/groq/openai/v1", ["gsk-discover-key-0001"], [])})
    return make_server(users=users(), vault=v)


def test_discover_groq_returns_normalized_models_and_sends_the_provider_key(discover_server, upstream):
    upstream.set_models("/groq/openai/v1/models", GROQ_MODELS)
    r = discover_server.admin("POST", "/admin/providers/groq/discover")
    assert r.status == 200, r.text
    body = r.json()
    assert body["provider"] == "groq"
    assert body["models"] == [
        {"id": "llama-3.3-70b-versatile", "usage": "chat", "contextWindow": 131072, "maxOutputTokens": 32768},
        {"id": "nomic-embed-text-v1.5", "usage": "embedding", "contextWindow": 8192, "maxOutputTokens": 0},
    ]
    assert sorted(s["id"] for s in body["skipped"]) == ["retired-model", "whisper-large-v3"]
    reqs = upstream.requests_to("/groq/openai/v1/models", "GET")
    assert len(reqs) == 1
    assert reqs[0].header("authorization") == "Bearer gsk-discover-key-0001"
    assert "gsk-discover-key-0001" not in r.text


def test_discover_upstream_401_is_502_with_the_provider_status(discover_server, upstream):
    upstream.set_response("GET", "/groq/openai/v1/models", status=401,
                          json={"error": {"message": "Invalid API Key gsk-discover-key-0001"}})
    r = discover_server.admin("POST", "/admin/providers/groq/discover")
    err = assert_openai_error(r, 502)
    assert "401" in err["message"]
    assert "gsk-discover-key-0001" not in r.text, "a key quoted by the provider is not passed on"


def test_discover_needs_the_vault_token(discover_server, upstream):
    assert_openai_error(discover_server.request("POST", "/admin/providers/groq/discover"), 401)
    assert_openai_error(discover_server.request("POST", "/admin/providers/groq/discover", auth=ALICE_KEY), 403)
    assert upstream.requests == []


# --------------------------------------------------------------------------- vault cache
def derivations(srv) -> int:
    r = srv.request("GET", "/")
    assert r.status == 200
    body = r.json()
    assert "vault_derivations" in body, f"debug=true must expose vault_derivations: {body}"
    return body["vault_derivations"]


def test_cached_requests_do_not_rederive_but_a_changed_vault_does(make_fresh_server, upstream):
    srv = make_fresh_server(users=users(), vault=simple_vault(upstream.url), env={"debug": "true"})
    assert srv.request("GET", "/v1/providers", auth=ALICE_KEY).status == 200  # warm
    n1 = derivations(srv)
    for _ in range(2):
        assert srv.request("GET", "/v1/providers", auth=ALICE_KEY).status == 200
        assert chat(srv).status == 200
        assert srv.admin("GET", "/ai.json").status == 200
    n2 = derivations(srv)
    assert n2 == n1, f"cached requests re-derived: {n1} -> {n2}"
    srv.put_vault(simple_vault(upstream.url, path="b"))
    assert srv.request("GET", "/v1/providers", auth=ALICE_KEY).status == 200
    n3 = derivations(srv)
    assert n3 > n2, "a changed vault is derived again"


def test_health_hides_vault_derivations_without_debug(auth_server):
    r = auth_server.request("GET", "/")
    assert r.status == 200 and r.json()["status"] == "ok"
    assert "vault_derivations" not in r.json()


def test_logs_never_contain_tokens_or_keys(make_server):
    # Runs last in this module: every server made above, every wrong token presented.
    assert make_server.made
    presented = ["wrong-admin-token-SHOULD-NOT-ECHO-7731", "another-token-xyz", "not-the-token-1234",
                 "wrong-token-0000", ALICE_KEY, BOB_KEY, EXPIRED_USER_KEY, UNKNOWN_KEY,
                 "sk-user-carol-aaaabbbbccccdddd", "prov-key-A-000000000001", "prov-key-B-000000000002",
                 "gsk-discover-key-0001", "prov-key-exact-1"]
    for server in make_server.made:
        log = server.full_log
        # The line each host prints once it listens: the log was captured.
        assert {"up": "Serving http://", "worker": "Ready on http://"}[server.target] in log
        for secret in presented + [server.token]:
            assert secret not in log, f"{secret[:8]}… appears in the proxy log"

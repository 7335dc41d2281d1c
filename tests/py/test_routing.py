"""Routing (issue 4): provider and model catalogues, modern and legacy
request routes, X-Host-Final selection (never a URL)."""
from __future__ import annotations

import pytest

from helpers import (
    ACCOUNT, ALICE_KEY, PAST, assert_openai_error, chat_body, direct, gateway, key, model, users, vault,
)

OR_MODELS = [
    model("meta-llama/llama-3.3-70b", ctx=131072, out=8192),
    model("openai/gpt-4o-mini", ctx=128000, out=16384),
    model("deepseek/deepseek-chat", ctx=64000, out=4096),
]


@pytest.fixture(scope="module")
def mock(module_upstream):
    return module_upstream


@pytest.fixture(scope="module")
def srv(make_server, mock):
    gw = f"{mock.url}/v1/{{account}}/default/compat"
    v = vault({
        "openrouter": direct(f"{mock.url}/openrouter/v1", ["or-key-1"], OR_MODELS),
        "groq": gateway(gw, "groq", ["gsk-route-1"], [model("llama-3.3-70b-versatile", ctx=131072, out=32768),
                                                       model("llama-3.1-8b-instant", ctx=131072, out=131072)]),
        # Only unusable keys: not listed by /v1/providers.
        "mistral": direct(f"{mock.url}/mistral/v1", [key("m-exp-1", type="expired"), key("m-exp-2", expiresAt=PAST)]),
        "sambanova": gateway(gw, "custom-sambanova", ["samba-route-1"], [model("Meta-Llama-3.3-70B-Instruct")]),
        "corp": direct(f"{mock.url}/corp/v1", ["corp-key-1"], [model("corp-model")]),
        "gemini": direct(f"{mock.url}/gemini/v1", [], [model("gemini-2.0-flash")]),
        # Detected by its configured endpoint's host; traffic goes through the (mock) gateway.
        "corpgw": gateway(f"{mock.url}/v1/{{account}}/corpgw/compat", "custom-corpgw", ["corpgw-key-1"],
                          endpoint="https://llm.corp.example/v1"),
    })
    return make_server(users=users(), vault=v, env={"cloudflare_account_id": ACCOUNT})


def get(srv, path, **kw):
    return srv.request("GET", path, auth=ALICE_KEY, **kw)


def only(upstream):
    assert len(upstream.requests) == 1, [q.path for q in upstream.requests]
    return upstream.requests[0]


def post(srv, path, body, headers=None):
    return srv.request("POST", path, body, headers, auth=ALICE_KEY)


# --------------------------------------------------------------------------- catalogues
def test_providers_lists_only_providers_with_a_usable_key_in_vault_order(srv, upstream):
    r = get(srv, "/v1/providers")
    assert r.status == 200, r.text
    body = r.json()
    assert body["object"] == "list"
    assert [p["id"] for p in body["data"]] == ["openrouter", "groq", "sambanova", "corp", "corpgw"]
    for p in body["data"]:
        assert p["object"] == "provider" and p["protocol"] == "openai"
    assert upstream.requests == []


def test_models_list_is_openai_shaped_in_vault_order(srv):
    r = get(srv, "/openrouter/v1/models")
    assert r.status == 200, r.text
    body = r.json()
    assert body["object"] == "list"
    assert body["data"] == [
        {"id": m["id"], "object": "model", "created": 0, "owned_by": "openrouter",
         "context_window": m["contextWindow"], "context_length": m["contextWindow"],
         "max_completion_tokens": m["maxOutputTokens"]}
        for m in OR_MODELS
    ]
    groq = get(srv, "/groq/v1/models").json()
    assert [m["id"] for m in groq["data"]] == ["llama-3.3-70b-versatile", "llama-3.1-8b-instant"]
    assert all(m["owned_by"] == "groq" for m in groq["data"])


@pytest.mark.parametrize("path", [
    "/openrouter/v1/models/meta-llama/llama-3.3-70b",
    "/openrouter/v1/models/meta-llama%2Fllama-3.3-70b",
    "/openrouter/v1/models/meta-llama%2fllama-3.3-70b",
])
def test_model_with_slash_in_its_id_is_found_plain_or_percent_encoded(srv, path):
    r = get(srv, path)
    assert r.status == 200, r.text
    assert r.json() == {"id": "meta-llama/llama-3.3-70b", "object": "model", "created": 0,
                        "owned_by": "openrouter", "context_window": 131072, "context_length": 131072,
                        "max_completion_tokens": 8192}


def test_unknown_model_is_404(srv):
    assert_openai_error(get(srv, "/openrouter/v1/models/meta-llama/nope"), 404)
    assert_openai_error(get(srv, "/groq/v1/models/openrouter-only"), 404)


def test_provider_not_in_vault_is_404_for_models_and_requests(srv, upstream):
    assert_openai_error(get(srv, "/anthropic/v1/models"), 404)
    assert_openai_error(get(srv, "/nosuch/v1/models/x"), 404)
    assert_openai_error(post(srv, "/nosuch/v1/chat/completions", chat_body("m")), 404)
    assert_openai_error(post(srv, "/nosuch/v1/embeddings", {"model": "e", "input": "x"}), 404)
    assert upstream.requests == []


# --------------------------------------------------------------------------- legacy routes
def test_legacy_openai_route_with_x_host_final_groq_goes_to_groq_through_the_gateway(srv, upstream):
    r = post(srv, "/openai/v1/chat/completions", chat_body("llama-3.3-70b-versatile"),
             {"X-Host-Final": "api.groq.com"})
    assert r.status == 200, r.text
    assert [q.path for q in upstream.requests] == [f"/v1/{ACCOUNT}/default/compat/chat/completions"]
    q = upstream.requests[0]
    assert q.json()["model"] == "groq/llama-3.3-70b-versatile"
    assert q.header("authorization") == "Bearer gsk-route-1"


def test_legacy_v1_route_with_x_host_final_sambanova_gets_custom_prefix(srv, upstream):
    r = post(srv, "/v1/chat/completions", chat_body("Meta-Llama-3.3-70B-Instruct"),
             {"X-Host-Final": "api.sambanova.ai"})
    assert r.status == 200, r.text
    assert [q.path for q in upstream.requests] == [f"/v1/{ACCOUNT}/default/compat/chat/completions"]
    assert upstream.requests[0].json()["model"] == "custom-sambanova/Meta-Llama-3.3-70B-Instruct"
    assert upstream.requests[0].header("authorization") == "Bearer samba-route-1"


def test_x_host_final_accepts_a_url_and_mixed_case(srv, upstream):
    r = post(srv, "/v1/chat/completions", chat_body("llama-3.1-8b-instant"),
             {"X-Host-Final": "https://API.GROQ.COM/openai/v1"})
    assert r.status == 200, r.text
    assert upstream.requests[0].json()["model"] == "groq/llama-3.1-8b-instant"


def test_x_host_final_matching_a_configured_endpoint_host_selects_that_provider(srv, upstream):
    r = post(srv, "/v1/chat/completions", chat_body("corp-llm"), {"X-Host-Final": "llm.corp.example"})
    assert r.status == 200, r.text
    q = only(upstream)
    assert q.path == f"/v1/{ACCOUNT}/corpgw/compat/chat/completions"
    assert q.json()["model"] == "custom-corpgw/corp-llm"
    assert q.header("authorization") == "Bearer corpgw-key-1"


def test_openai_path_without_x_host_final_routes_by_path(srv, upstream):
    # No header: /openai/... is the "openai" provider, which this vault does not have.
    assert_openai_error(post(srv, "/openai/v1/chat/completions", chat_body("gpt-4o-mini")), 404)
    assert upstream.requests == []


def test_legacy_route_without_header_or_provider_is_400(srv, upstream):
    assert_openai_error(post(srv, "/v1/chat/completions", chat_body("m")), 400)
    assert upstream.requests == []


@pytest.mark.parametrize("host", ["evil.example", "169.254.169.254", "api.groq.com.evil.example", " "])
def test_unknown_x_host_final_host_is_400_and_never_contacted(srv, upstream, host):
    r = post(srv, "/v1/chat/completions", chat_body("m"), {"X-Host-Final": host})
    assert_openai_error(r, 400)
    r = post(srv, "/openai/v1/chat/completions", chat_body("m"), {"X-Host-Final": host})
    assert_openai_error(r, 400)
    assert upstream.requests == []


def test_known_host_whose_provider_is_not_in_the_vault_is_404(srv, upstream):
    r = post(srv, "/v1/chat/completions", chat_body("claude-3-5-haiku"), {"X-Host-Final": "api.anthropic.com"})
    assert_openai_error(r, 404)
    assert upstream.requests == []


def test_provider_with_custom_name_is_routable_by_path(srv, upstream):
    r = post(srv, "/corp/v1/chat/completions", chat_body("corp-model"))
    assert r.status == 200, r.text
    assert [q.path for q in upstream.requests] == ["/corp/v1/chat/completions"]
    assert upstream.requests[0].json()["model"] == "corp-model"
    assert upstream.requests[0].header("authorization") == "Bearer corp-key-1"


def test_path_provider_wins_over_x_host_final_outside_legacy_routes(srv, upstream):
    r = post(srv, "/corp/v1/chat/completions", chat_body("corp-model"), {"X-Host-Final": "api.groq.com"})
    assert r.status == 200, r.text
    assert [q.path for q in upstream.requests] == ["/corp/v1/chat/completions"]


def test_x_host_final_never_reaches_upstream(srv, upstream):
    for path in ("/openai/v1/chat/completions", "/v1/chat/completions"):
        assert post(srv, path, chat_body("llama-3.3-70b-versatile"), {"X-Host-Final": "api.groq.com"}).status == 200
    assert post(srv, "/corp/v1/chat/completions", chat_body("corp-model"), {"X-Host-Final": "api.groq.com"}).status == 200
    assert len(upstream.requests) == 3
    for q in upstream.requests:
        assert "x-host-final" not in q.headers
        assert "groq.com" not in q.path
        assert all("groq.com" not in v for v in q.headers.values()), q.headers
        assert (q.header("host") or "").startswith("127.0.0.1"), q.headers


def test_provider_with_no_usable_key_is_503_and_not_contacted(srv, upstream):
    r = post(srv, "/mistral/v1/chat/completions", chat_body("mistral-small"))
    err = assert_openai_error(r, 503)
    assert "m-exp-1" not in r.text and "m-exp-2" not in r.text
    assert err["code"] == "no_usable_key"
    assert upstream.requests == []

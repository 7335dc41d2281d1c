"""The official OpenAI Python SDK against the running proxy (issue 4's real
client): chat (plain and streaming), embeddings, models, auth errors."""
from __future__ import annotations

import pytest

openai = pytest.importorskip("openai")

from helpers import ALICE_KEY, UNKNOWN_KEY, direct, model, users, vault  # noqa: E402

CONTENT = "The quick brown fox jumps over the lazy dog."
MODELS = [model("llama-3.3-70b-versatile", ctx=131072, out=32768), model("llama-3.1-8b-instant"),
          model("nomic-embed-text-v1.5", usage="embedding", ctx=8192, out=0)]


@pytest.fixture(scope="module")
def srv(make_server, module_upstream):
    v = vault({"groq": direct(f"{module_upstream.url}/groq/openai/v1", ["gsk-sdk-key-1"], MODELS)})
    return make_server(users=users(), vault=v)


@pytest.fixture
def client(srv):
    """``client(api_key=ALICE_KEY)``: an SDK client on ``/groq/v1``, closed after the test
    (an idle keep-alive connection would delay the server's shutdown)."""
    made = []

    def make(api_key=ALICE_KEY, **kw):
        c = openai.OpenAI(base_url=srv.url + "/groq/v1", api_key=api_key, max_retries=0, timeout=10, **kw)
        made.append(c)
        return c

    yield make
    for c in made:
        c.close()


def test_sdk_chat_completion(client, upstream):
    from conftest import chat_completion
    upstream.set_response("POST", "/groq/openai/v1/chat/completions",
                          json=chat_completion("llama-3.3-70b-versatile", CONTENT))
    resp = client().chat.completions.create(
        model="llama-3.3-70b-versatile", messages=[{"role": "user", "content": "Say the sentence."}])
    assert resp.choices[0].message.content == CONTENT
    assert resp.usage.total_tokens == 12
    q = upstream.requests_to("/groq/openai/v1/chat/completions")
    assert len(q) == 1
    assert q[0].header("authorization") == "Bearer gsk-sdk-key-1"
    assert q[0].json()["messages"] == [{"role": "user", "content": "Say the sentence."}]


def test_sdk_streaming_chat_completion(client, upstream):
    from conftest import chat_chunks
    upstream.set_response("POST", "/groq/openai/v1/chat/completions",
                          sse=chat_chunks("llama-3.3-70b-versatile", CONTENT), delay=0.02)
    stream = client().chat.completions.create(
        model="llama-3.3-70b-versatile", messages=[{"role": "user", "content": "Stream it."}], stream=True)
    parts = []
    n = 0
    for chunk in stream:
        n += 1
        if chunk.choices and chunk.choices[0].delta.content:
            parts.append(chunk.choices[0].delta.content)
    assert "".join(parts) == CONTENT
    assert n >= len(CONTENT.split()), "arrived as several chunks"
    assert upstream.requests[-1].json()["stream"] is True


def test_sdk_embeddings(client, upstream):
    vec = [0.25, -0.5, 0.125, 1.0, 0.0]
    upstream.set_response("POST", "/groq/openai/v1/embeddings", json={
        "object": "list", "model": "nomic-embed-text-v1.5",
        "data": [{"object": "embedding", "index": 0, "embedding": vec}],
        "usage": {"prompt_tokens": 2, "total_tokens": 2}})
    resp = client().embeddings.create(model="nomic-embed-text-v1.5", input="hello world")
    assert len(resp.data) == 1
    assert len(resp.data[0].embedding) == len(vec)
    assert resp.data[0].embedding == pytest.approx(vec)
    assert upstream.requests_to("/groq/openai/v1/embeddings")[0].json()["input"] == "hello world"


def test_sdk_models_list_in_vault_order(client, upstream):
    ids = [m.id for m in client().models.list()]
    assert ids == [m["id"] for m in MODELS]
    one = client().models.retrieve("llama-3.1-8b-instant")
    assert one.id == "llama-3.1-8b-instant" and one.owned_by == "groq"
    assert upstream.requests == [], "the catalogue comes from the vault"


def test_sdk_invalid_key_raises_permission_denied(client, upstream):
    with pytest.raises(openai.PermissionDeniedError) as exc:
        client(api_key=UNKNOWN_KEY).chat.completions.create(
            model="llama-3.3-70b-versatile", messages=[{"role": "user", "content": "hi"}])
    assert exc.value.status_code == 403
    assert UNKNOWN_KEY not in str(exc.value)
    assert upstream.requests == []


def test_sdk_missing_key_raises_authentication_error(client, upstream):
    # The SDK sends no Authorization header when it is explicitly omitted.
    with pytest.raises(openai.AuthenticationError) as exc:
        client(api_key="unused").models.list(extra_headers={"Authorization": openai.Omit()})
    assert exc.value.status_code == 401
    assert upstream.requests == []

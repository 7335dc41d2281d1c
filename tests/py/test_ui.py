"""The vault editor (/ui/) in a real browser against the real server.

Every test starts its own ``ai-proxy up`` with a fresh state directory, a
mock provider on loopback, and a fresh chromium profile.
"""
from __future__ import annotations

import copy
import json
import os
import re

import pytest
from playwright.sync_api import Page, expect

from conftest import REPO, openssl_decrypt, openssl_encrypt

GROQ_MODELS = ["llama-3.3-70b-versatile", "mixtral-8x7b-32768", "gemma2-9b-it"]


def seed_vault(upstream_url: str) -> dict:
    """A vault with unknown fields at every level, which the UI must keep."""
    return {
        "version": 1,
        "x-top-level-extra": {"keep": True, "n": 42},
        "providers": {
            "groq": {
                "protocol": "openai",
                "endpoint": f"{upstream_url}/groq/openai/v1",
                "gatewayEndpoint": "https://gateway.ai.cloudflare.com/v1/{account}/default/compat",
                "gatewayModelPrefix": "groq",
                "gatewayKey": "gw-secret-groq",
                "x-provider-extra": "provider note",
                "keys": [
                    {"key": "gsk_test_one", "owner": "ronan", "type": "paid", "expiresAt": "2027-01-01T00:00:00Z", "x-key-extra": 7},
                    {"key": "gsk_test_two", "owner": "alice", "type": "free"},
                ],
                "models": [
                    {"id": "llama-3.3-70b-versatile", "usage": "chat", "contextWindow": 8192, "maxOutputTokens": 2048,
                     "tpmLimit": None, "priority": 0, "tags": ["fast"], "x-model-extra": {"a": 1}},
                    {"id": "mixtral-8x7b-32768", "usage": "chat", "contextWindow": 32768, "maxOutputTokens": 4096,
                     "tpmLimit": 6000, "priority": 10},
                    {"id": "gemma2-9b-it", "usage": "chat", "contextWindow": 8192, "maxOutputTokens": 8192,
                     "tpmLimit": None, "priority": 20, "gatewayPrefix": "groq"},
                ],
            },
            "sambanova": {
                "protocol": "openai",
                "endpoint": f"{upstream_url}/sambanova/v1",
                "gatewayEndpoint": "https://gateway.ai.cloudflare.com/v1/{account}/default/compat",
                "gatewayModelPrefix": "sambanova",
                "keys": [{"key": "sn_test_key", "owner": "ronan", "type": "paid"}],
                "models": [{"id": "Meta-Llama-3.3-70B-Instruct", "usage": "chat", "contextWindow": 131072,
                            "maxOutputTokens": 4096, "tpmLimit": None, "priority": 0}],
            },
        },
    }


@pytest.fixture
def vault(mock_upstream) -> dict:
    return seed_vault(mock_upstream.url)


@pytest.fixture
def server(proxy_factory, vault):
    return proxy_factory(vault=vault)


@pytest.fixture(autouse=True)
def no_page_errors(browser_context):
    yield
    assert browser_context.errors == [], f"uncaught errors in the page: {browser_context.errors}"


# --------------------------------------------------------------------------- helpers
def open_ui(page: Page, srv) -> None:
    page.goto(srv.url + "/ui/")
    expect(page.get_by_test_id("token-input")).to_be_visible()


def unlock(page: Page, srv, token: str | None = None) -> None:
    open_ui(page, srv)
    page.get_by_test_id("token-input").fill(token or srv.token)
    page.get_by_test_id("unlock-button").click()
    expect(page.locator("[data-provider]").first).to_be_visible()


def card(page: Page, name: str):
    return page.locator(f'.provider[data-provider="{name}"]')


def models_tab(page: Page, name: str):
    c = card(page, name)
    c.get_by_test_id("provider-tab-models").click()
    return c


def model_ids(page: Page, name: str) -> list[str]:
    return card(page, name).locator("[data-testid=model-row]").evaluate_all("rs => rs.map(r => r.dataset.modelId)")


def priorities(page: Page, name: str) -> list[str]:
    return card(page, name).get_by_test_id("model-priority").all_inner_texts()


def save_vault(page: Page) -> None:
    page.get_by_test_id("save-vault").click()
    expect(page.get_by_test_id("status")).to_have_text("Vault saved.")
    expect(page.get_by_test_id("dirty-indicator")).to_be_hidden()


def no_horizontal_scroll(page: Page) -> None:
    widths = page.evaluate("[document.documentElement.scrollWidth, document.body.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[2] and widths[1] <= widths[2], f"horizontal scroll: {widths}"


# --------------------------------------------------------------------------- serving
@pytest.mark.parametrize("path, ctype", [("index.html", "text/html"), ("app.js", "javascript"), ("style.css", "text/css")])
def test_ui_files_served_by_the_component(proxy, path, ctype):
    r = proxy.request("GET", "/ui/" + ("" if path == "index.html" else path))
    assert r.status == 200, r.text[:200]
    assert ctype in r.headers.get("content-type", "")
    if os.environ.get("AI_PROXY_UI_FROM_DISK") != "1":
        assert r.body == (REPO / "ui" / path).read_bytes(), f"/ui/{path} differs from ui/{path}: rebuild the .wasm"


# --------------------------------------------------------------------------- unlock
def test_wrong_token_shows_message(server, browser_page, screenshot):
    page = browser_page
    open_ui(page, server)
    screenshot(page, "unlock")
    page.get_by_test_id("token-input").fill("not-the-token")
    page.get_by_test_id("unlock-button").click()
    expect(page.get_by_test_id("unlock-message")).to_contain_text("Wrong token or corrupted vault")
    expect(page.locator("#app-view")).to_be_hidden()
    expect(page.locator("[data-provider]")).to_have_count(0)


def test_unlock_shows_providers_in_vault_order(server, browser_page, screenshot):
    page = browser_page
    unlock(page, server)
    expect(page.locator(".provider")).to_have_count(2)
    assert page.locator(".provider").evaluate_all("cs => cs.map(c => c.dataset.provider)") == ["groq", "sambanova"]
    groq = card(page, "groq")
    expect(groq.locator('[data-path="providers.groq.endpoint"]')).to_have_value(re.compile(r"/groq/openai/v1$"))
    # secrets are masked by default
    expect(groq.locator('[data-path="providers.groq.gatewayKey"]')).to_have_attribute("type", "password")
    expect(groq.get_by_test_id("key").first).to_have_attribute("type", "password")
    expect(page.get_by_test_id("dirty-indicator")).to_be_hidden()
    screenshot(page, "providers", full_page=True)


def test_remember_for_this_tab_and_forget_token(server, browser_page):
    page = browser_page
    open_ui(page, server)
    page.get_by_test_id("token-input").fill(server.token)
    page.get_by_test_id("remember-token").check()
    page.get_by_test_id("unlock-button").click()
    expect(card(page, "groq")).to_be_visible()
    page.reload()
    expect(card(page, "groq")).to_be_visible()       # unlocked again from sessionStorage
    page.get_by_test_id("forget-token").click()
    expect(page.get_by_test_id("token-input")).to_be_visible()
    assert page.evaluate("Object.keys(sessionStorage).length") == 0
    page.reload()
    expect(page.get_by_test_id("token-input")).to_be_visible()
    expect(page.locator("[data-provider]")).to_have_count(0)


def test_unsaved_changes_indicator_and_beforeunload_warning(server, browser_page):
    page = browser_page
    unlock(page, server)
    expect(page.get_by_test_id("dirty-indicator")).to_be_hidden()
    card(page, "groq").locator('[data-path="providers.groq.gatewayModelPrefix"]').fill("groq-edited")
    expect(page.get_by_test_id("dirty-indicator")).to_be_visible()
    assert server.get_vault()["providers"]["groq"]["gatewayModelPrefix"] == "groq", "nothing leaves the browser before Save"
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.type), d.dismiss()))
    page.close(run_before_unload=True)
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"]


def test_create_empty_vault_when_none_exists(proxy, browser_page):
    page = browser_page
    assert proxy.get_vault_text().status == 404
    open_ui(page, proxy)
    page.get_by_test_id("token-input").fill(proxy.token)
    page.get_by_test_id("unlock-button").click()
    page.get_by_test_id("create-vault").click()
    expect(page.get_by_test_id("dirty-indicator")).to_be_visible()
    assert proxy.get_vault_text().status == 404, "nothing may leave the browser before Save"
    save_vault(page)
    assert proxy.get_vault() == {"version": 1, "providers": {}}


# --------------------------------------------------------------------------- keys
def test_edit_key_and_save_keeps_unknown_fields(server, vault, browser_page):
    page = browser_page
    unlock(page, server)
    groq = card(page, "groq")
    key2 = groq.locator('[data-path="providers.groq.keys[1].key"]')
    key2.fill("gsk_rotated_key")
    groq.locator('[data-path="providers.groq.keys[1].owner"]').fill("bob")
    expect(page.get_by_test_id("dirty-indicator")).to_be_visible()
    # reveal / hide
    row = groq.get_by_test_id("key-row").nth(1)
    row.get_by_test_id("key-reveal").click()
    expect(key2).to_have_attribute("type", "text")
    row.get_by_test_id("key-reveal").click()
    expect(key2).to_have_attribute("type", "password")
    save_vault(page)

    saved = server.get_vault()
    want = copy.deepcopy(vault)
    want["providers"]["groq"]["keys"][1].update(key="gsk_rotated_key", owner="bob")
    assert saved == want                      # everything else, unknown fields included, untouched

    page.reload()
    unlock(page, server)
    expect(card(page, "groq").locator('[data-path="providers.groq.keys[1].key"]')).to_have_value("gsk_rotated_key")


def test_mark_expired_add_and_remove_key(server, browser_page):
    page = browser_page
    unlock(page, server)
    groq = card(page, "groq")
    groq.get_by_test_id("key-row").nth(0).get_by_test_id("key-mark-expired").click()
    expect(groq.locator('[data-path="providers.groq.keys[0].type"]')).to_have_value("expired")
    groq.get_by_test_id("add-key").click()
    groq.locator('[data-path="providers.groq.keys[2].key"]').fill("gsk_third")
    groq.get_by_test_id("key-row").nth(1).get_by_test_id("key-remove").click()
    expect(groq.get_by_test_id("key-row")).to_have_count(2)
    save_vault(page)
    keys = server.get_vault()["providers"]["groq"]["keys"]
    assert [k["key"] for k in keys] == ["gsk_test_one", "gsk_third"]
    assert keys[0]["type"] == "expired" and keys[0]["x-key-extra"] == 7


def test_validation_issues_shown_next_to_fields(server, browser_page):
    page = browser_page
    unlock(page, server)
    groq = card(page, "groq")
    groq.get_by_test_id("add-key").click()          # a key with an empty secret
    page.get_by_test_id("save-vault").click()
    expect(page.get_by_test_id("issues-list")).to_contain_text("providers.groq.keys[2]")
    field = groq.locator('[data-path="providers.groq.keys[2].key"]')
    expect(field).to_have_attribute("aria-invalid", "true")
    err = groq.get_by_test_id("key-row").nth(2).get_by_test_id("field-error")
    expect(err).to_be_visible()
    expect(page.get_by_test_id("dirty-indicator")).to_be_visible()
    assert len(server.get_vault()["providers"]["groq"]["keys"]) == 2


# --------------------------------------------------------------------------- providers
def test_add_rename_remove_provider(server, mock_upstream, browser_page):
    page = browser_page
    unlock(page, server)
    page.get_by_test_id("new-provider-name").fill("mistral")
    page.get_by_test_id("add-provider").click()
    m = card(page, "mistral")
    m.locator('[data-path="providers.mistral.endpoint"]').fill(f"{mock_upstream.url}/mistral/v1")
    m.locator('[data-path="providers.mistral.gatewayEndpoint"]').fill("https://gateway.ai.cloudflare.com/v1/{account}/default/compat")
    m.get_by_test_id("add-key").click()
    m.locator('[data-path="providers.mistral.keys[0].key"]').fill("mistral_key")
    m.get_by_test_id("provider-rename").click()
    m.get_by_test_id("rename-input").fill("mistral2")
    m.get_by_test_id("rename-ok").click()
    expect(card(page, "mistral2")).to_be_visible()
    card(page, "sambanova").get_by_test_id("provider-remove").click()
    expect(card(page, "sambanova")).to_have_count(0)
    save_vault(page)
    saved = server.get_vault()
    assert list(saved["providers"]) == ["groq", "mistral2"]
    assert saved["providers"]["mistral2"]["keys"][0]["key"] == "mistral_key"
    assert saved["x-top-level-extra"] == {"keep": True, "n": 42}


# --------------------------------------------------------------------------- models order
def test_drag_reorder_renumbers_priorities(server, browser_page):
    page = browser_page
    unlock(page, server)
    groq = models_tab(page, "groq")
    assert model_ids(page, "groq") == GROQ_MODELS
    rows = groq.get_by_test_id("model-row")
    # drag the last row's handle onto the top half of the first row
    rows.nth(2).get_by_test_id("model-handle").drag_to(rows.nth(0), target_position={"x": 200, "y": 3})
    expect(groq.get_by_test_id("model-row").first).to_have_attribute("data-model-id", "gemma2-9b-it")
    assert model_ids(page, "groq") == ["gemma2-9b-it", "llama-3.3-70b-versatile", "mixtral-8x7b-32768"]
    assert priorities(page, "groq") == ["0", "10", "20"]
    # and down again: first row onto the bottom half of the last
    rows = groq.get_by_test_id("model-row")
    box = rows.nth(2).bounding_box()
    rows.nth(0).get_by_test_id("model-handle").drag_to(rows.nth(2), target_position={"x": 200, "y": box["height"] - 3})
    expect(groq.get_by_test_id("model-row").last).to_have_attribute("data-model-id", "gemma2-9b-it")
    assert priorities(page, "groq") == ["0", "10", "20"]
    save_vault(page)
    models = server.get_vault()["providers"]["groq"]["models"]
    assert [(m["id"], m["priority"]) for m in models] == [
        ("llama-3.3-70b-versatile", 0), ("mixtral-8x7b-32768", 10), ("gemma2-9b-it", 20)]


def test_keyboard_reorder_renumbers_priorities(server, browser_page):
    page = browser_page
    unlock(page, server)
    groq = models_tab(page, "groq")
    first = groq.get_by_test_id("model-row").first
    first.get_by_test_id("model-gateway-prefix").focus()
    page.keyboard.press("Tab")
    expect(page.get_by_role("button", name="Move llama-3.3-70b-versatile up")).to_be_focused()
    page.keyboard.press("Tab")
    down = page.get_by_role("button", name="Move llama-3.3-70b-versatile down")
    expect(down).to_be_focused()
    page.keyboard.press("Enter")
    assert model_ids(page, "groq") == ["mixtral-8x7b-32768", "llama-3.3-70b-versatile", "gemma2-9b-it"]
    expect(page.get_by_role("button", name="Move llama-3.3-70b-versatile down")).to_be_focused()
    page.keyboard.press("Enter")                  # focus followed the row: move it once more
    assert model_ids(page, "groq") == ["mixtral-8x7b-32768", "gemma2-9b-it", "llama-3.3-70b-versatile"]
    assert priorities(page, "groq") == ["0", "10", "20"]
    page.get_by_role("button", name="Move gemma2-9b-it up").focus()
    page.keyboard.press("Space")
    assert model_ids(page, "groq") == ["gemma2-9b-it", "mixtral-8x7b-32768", "llama-3.3-70b-versatile"]
    assert priorities(page, "groq") == ["0", "10", "20"]
    save_vault(page)
    models = server.get_vault()["providers"]["groq"]["models"]
    assert [(m["id"], m["priority"]) for m in models] == [
        ("gemma2-9b-it", 0), ("mixtral-8x7b-32768", 10), ("llama-3.3-70b-versatile", 20)]
    assert models[2]["tags"] == ["fast"] and models[2]["x-model-extra"] == {"a": 1}


def test_edit_model_fields(server, browser_page):
    page = browser_page
    unlock(page, server)
    groq = models_tab(page, "groq")
    groq.locator('[data-path="providers.groq.models[0].tpmLimit"]').fill("12000")
    groq.locator('[data-path="providers.groq.models[1].tpmLimit"]').fill("")
    groq.locator('[data-path="providers.groq.models[1].tags"]').fill("big, slow")
    groq.locator('[data-path="providers.groq.models[2].usage"]').select_option("embedding")
    groq.get_by_test_id("add-model").click()
    groq.locator('[data-path="providers.groq.models[3].id"]').fill("added-model")
    groq.locator('[data-path="providers.groq.models[3].contextWindow"]').fill("4096")
    groq.locator('[data-path="providers.groq.models[3].maxOutputTokens"]').fill("1024")
    save_vault(page)
    models = server.get_vault()["providers"]["groq"]["models"]
    assert models[0]["tpmLimit"] == 12000 and models[0]["x-model-extra"] == {"a": 1}
    assert models[1]["tpmLimit"] is None and models[1]["tags"] == ["big", "slow"]
    assert models[2]["usage"] == "embedding"
    assert models[3] == {"id": "added-model", "usage": "chat", "contextWindow": 4096, "maxOutputTokens": 1024,
                         "tpmLimit": None, "priority": 30}


# --------------------------------------------------------------------------- discovery
def test_discovery_merge_keeps_known_order_and_appends_chat_before_embedding(server, mock_upstream, browser_page, screenshot):
    mock_upstream.set_models("/groq/openai/v1/models", [
        {"id": "nomic-embed-text-v1_5", "object": "model", "active": True, "context_window": 8192},
        {"id": "mixtral-8x7b-32768", "object": "model", "active": True, "context_window": 32768, "max_completion_tokens": 8192},
        {"id": "new-chat-b", "object": "model", "active": True, "context_window": 65536, "max_completion_tokens": 4096},
        {"id": "llama-3.3-70b-versatile", "object": "model", "active": True, "context_window": 131072, "max_completion_tokens": 32768},
        {"id": "whisper-large-v3", "object": "model", "active": True, "context_window": 448},
        {"id": "new-chat-a", "object": "model", "active": True, "context_window": 16384, "max_completion_tokens": 2048},
    ])
    page = browser_page
    unlock(page, server)
    groq = models_tab(page, "groq")
    # an unsaved key edit: discovery must use the draft provider sent by the UI
    groq.get_by_test_id("provider-tab-keys").click()
    groq.locator('[data-path="providers.groq.keys[0].key"]').fill("gsk_draft_only")
    groq.get_by_test_id("provider-tab-models").click()
    groq.get_by_test_id("refresh-models").click()
    status = groq.get_by_test_id("discover-status")
    expect(status).to_contain_text("1 skipped")
    reqs = mock_upstream.requests_to("/groq/openai/v1/models", "GET")
    assert reqs and reqs[-1].header("authorization") == "Bearer gsk_draft_only"

    assert model_ids(page, "groq") == ["llama-3.3-70b-versatile", "mixtral-8x7b-32768", "gemma2-9b-it",
                                       "new-chat-b", "new-chat-a", "nomic-embed-text-v1_5"]
    assert priorities(page, "groq") == ["0", "10", "20", "30", "40", "50"]
    gone = groq.locator('[data-model-id="gemma2-9b-it"]')
    expect(gone).to_contain_text("Not listed by provider anymore")
    expect(groq.locator('[data-model-id="llama-3.3-70b-versatile"] [data-testid=model-context]')).to_have_value("131072")
    expect(groq.locator('[data-model-id="nomic-embed-text-v1_5"] [data-testid=model-usage]')).to_have_value("embedding")
    screenshot(page, "models", full_page=True)
    assert len(server.get_vault()["providers"]["groq"]["models"]) == 3, "nothing saved before Save"

    groq.get_by_test_id("apply-vanished").click()
    expect(groq.locator('[data-model-id="gemma2-9b-it"]')).to_have_count(0)
    assert priorities(page, "groq") == ["0", "10", "20", "30", "40"]
    save_vault(page)

    page.reload()
    unlock(page, server)
    models_tab(page, "groq")
    assert model_ids(page, "groq") == ["llama-3.3-70b-versatile", "mixtral-8x7b-32768",
                                       "new-chat-b", "new-chat-a", "nomic-embed-text-v1_5"]

    raw = server.get_vault_text()
    saved = json.loads(openssl_decrypt(raw.body, server.token))     # the openssl CLI reads what the browser wrote
    models = saved["providers"]["groq"]["models"]
    llama = models[0]
    assert llama["contextWindow"] == 131072 and llama["maxOutputTokens"] == 32768
    assert llama["tags"] == ["fast"] and llama["x-model-extra"] == {"a": 1}
    assert models[1]["tpmLimit"] == 6000
    assert models[4] == {"id": "nomic-embed-text-v1_5", "usage": "embedding", "contextWindow": 8192,
                         "maxOutputTokens": 0, "tpmLimit": None, "priority": 40}
    assert saved["x-top-level-extra"] == {"keep": True, "n": 42}
    assert saved["providers"]["groq"]["x-provider-extra"] == "provider note"
    assert saved["providers"]["groq"]["keys"][0]["key"] == "gsk_draft_only"


def test_discovery_error_leaves_models_unchanged(server, mock_upstream, browser_page):
    mock_upstream.set_response("GET", "/groq/openai/v1/models", status=401,
                               json={"error": {"message": "Invalid API Key", "type": "invalid_request_error", "code": "invalid_api_key"}})
    page = browser_page
    unlock(page, server)
    groq = models_tab(page, "groq")
    groq.get_by_test_id("refresh-models").click()
    expect(groq.get_by_test_id("discover-status")).to_contain_text("Discovery failed")
    assert model_ids(page, "groq") == GROQ_MODELS
    assert priorities(page, "groq") == ["0", "10", "20"]
    expect(page.get_by_test_id("dirty-indicator")).to_be_hidden()


# --------------------------------------------------------------------------- conflicts
def test_concurrent_save_conflict_shows_412_message(server, browser_page, new_page):
    first, second = browser_page, new_page()
    unlock(first, server)
    unlock(second, server)
    card(first, "groq").locator('[data-path="providers.groq.keys[0].owner"]').fill("first-editor")
    card(second, "groq").locator('[data-path="providers.groq.keys[0].owner"]').fill("second-editor")
    save_vault(first)
    second.get_by_test_id("save-vault").click()
    banner = second.get_by_test_id("conflict-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("Someone else saved the vault since you opened it")
    expect(second.get_by_test_id("dirty-indicator")).to_be_visible()
    assert server.get_vault()["providers"]["groq"]["keys"][0]["owner"] == "first-editor"
    second.get_by_test_id("conflict-reload").click()
    expect(card(second, "groq").locator('[data-path="providers.groq.keys[0].owner"]')).to_have_value("first-editor")
    expect(banner).to_be_hidden()
    expect(second.get_by_test_id("dirty-indicator")).to_be_hidden()


# --------------------------------------------------------------------------- users
def test_users_tab_add_and_remove_key_shown_once(proxy_factory, vault, browser_page, screenshot):
    alice_key = "sk-aiproxy-alice-secret-key-0123456789"
    srv = proxy_factory(users={"alice": {"key": alice_key, "owner": "ronan", "type": "paid"},
                               "carol": {"key": "sk-aiproxy-carol-secret-key-0123456789", "owner": "ronan", "type": "free"}},
                        vault=vault)
    page = browser_page
    unlock(page, srv)
    page.get_by_test_id("view-users").click()
    rows = page.get_by_test_id("user-row")
    expect(rows).to_have_count(2)
    expect(page.locator('[data-user="alice"] [data-testid=user-owner]')).to_have_value("ronan")
    assert alice_key not in page.content()

    page.get_by_test_id("new-user-name").fill("bob")
    page.get_by_test_id("new-user-owner").fill("team-b")
    page.get_by_test_id("new-user-type").fill("free")
    page.get_by_test_id("add-user").click()
    dialog = page.get_by_test_id("key-dialog")
    expect(dialog).to_be_visible()
    bob_key = page.get_by_test_id("new-user-key").input_value()
    assert re.fullmatch(r"sk-aiproxy-[A-Za-z0-9_-]{43}", bob_key), bob_key
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=srv.url)
    page.get_by_test_id("copy-new-key").click()
    expect(page.get_by_test_id("copy-new-key")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == bob_key
    screenshot(page, "users-new-key")
    page.get_by_test_id("close-key-dialog").click()
    expect(dialog).to_be_hidden()
    assert bob_key not in page.locator("body").inner_text()
    assert page.evaluate("k => [...document.querySelectorAll('input')].some(i => i.value === k)", bob_key) is False

    page.locator('[data-user="carol"]').get_by_test_id("user-remove").click()
    page.locator('[data-user="alice"] [data-testid=user-type]').fill("free")
    expect(page.get_by_test_id("users-dirty")).to_be_visible()
    page.get_by_test_id("save-users").click()
    expect(page.get_by_test_id("users-status")).to_contain_text("Users saved")
    expect(rows).to_have_count(2)
    page.mouse.move(0, 0)
    page.locator("body").focus()
    screenshot(page, "users")

    users = srv.get_users()
    assert set(users) == {"alice", "bob"}
    assert users["alice"]["type"] == "free" and users["bob"] == {"owner": "team-b", "type": "free"}
    assert all("key" not in u for u in users.values())
    # the key shown once is the one the proxy now accepts
    assert srv.request("GET", "/v1/providers", auth=bob_key).status == 200
    assert srv.request("GET", "/v1/providers", auth=alice_key).status == 200
    assert srv.request("GET", "/v1/providers", auth="sk-aiproxy-carol-secret-key-0123456789").status in (401, 403)


def test_users_conflict_shows_message_and_reload(proxy_factory, vault, browser_page):
    srv = proxy_factory(users={"alice": {"key": "sk-aiproxy-alice-0123456789abcdef", "owner": "ronan", "type": "paid"}},
                        vault=vault)
    page = browser_page
    unlock(page, srv)
    page.get_by_test_id("view-users").click()
    expect(page.get_by_test_id("user-row")).to_have_count(1)
    srv.put_users({"alice": {"owner": "someone-else", "type": "paid"}})
    page.locator('[data-user="alice"] [data-testid=user-type]').fill("free")
    page.get_by_test_id("save-users").click()
    expect(page.get_by_test_id("users-status")).to_contain_text("changed elsewhere")
    page.get_by_test_id("users-conflict-reload").click()
    expect(page.locator('[data-user="alice"] [data-testid=user-owner]')).to_have_value("someone-else")


# --------------------------------------------------------------------------- crypto & layout
def test_webcrypto_matches_openssl_cli(server, browser_page):
    page = browser_page
    open_ui(page, server)
    plain = json.dumps({"version": 1, "providers": {}, "note": "héllo ✓ " + "x" * 300})
    # browser -> openssl
    text = page.evaluate("([p, t]) => window.aiProxyVault.encryptVault(p, t)", [plain, server.token])
    lines = text.split("\n")
    assert text.endswith("\n") and all(len(line) <= 64 for line in lines) and len(lines[0]) == 64
    assert text.startswith("U2FsdGVkX1")                        # "Salted__"
    assert openssl_decrypt(text, server.token) == plain
    text2 = page.evaluate("([p, t]) => window.aiProxyVault.encryptVault(p, t)", [plain, server.token])
    assert text2 != text, "a fresh salt on every encryption"
    # openssl -> browser, with line breaks, without, and with CRLF
    enc = openssl_encrypt(plain, server.token)
    for variant in (enc, "".join(enc.split()), enc.replace("\n", "\r\n")):
        assert page.evaluate("([c, t]) => window.aiProxyVault.decryptVault(c, t)", [variant, server.token]) == plain
    with pytest.raises(Exception):
        page.evaluate("([c, t]) => window.aiProxyVault.decryptVault(c, t)", [enc, "wrong-token"])


def test_layout_390_has_no_horizontal_scroll(server, browser_page, screenshot):
    page = browser_page
    page.set_viewport_size({"width": 390, "height": 844})
    open_ui(page, server)
    no_horizontal_scroll(page)
    unlock(page, server)
    no_horizontal_scroll(page)
    models_tab(page, "groq")
    no_horizontal_scroll(page)
    screenshot(page, "mobile-390-models", full_page=True)
    card(page, "groq").get_by_test_id("provider-tab-keys").click()
    no_horizontal_scroll(page)
    page.get_by_test_id("view-users").click()
    no_horizontal_scroll(page)
    page.get_by_test_id("view-providers").click()
    screenshot(page, "mobile-390")


def test_every_control_is_labelled(server, browser_page):
    page = browser_page
    unlock(page, server)
    models_tab(page, "groq")
    unlabelled = page.evaluate("""() => [...document.querySelectorAll('input, select, button, textarea')]
        .filter(el => el.offsetParent !== null || el.closest('[data-panel]'))
        .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                      && !el.getAttribute('aria-labelledby') && !(el.tagName === 'BUTTON' && el.textContent.trim()))
        .map(el => el.outerHTML.slice(0, 120))""")
    assert unlabelled == []

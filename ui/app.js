// ai-proxy vault editor — plain ES module, no dependencies, no build step.
// The vault is fetched encrypted, decrypted here with WebCrypto, edited in
// place (unknown fields survive because the parsed objects are never rebuilt)
// and only leaves the browser, re-encrypted, when the admin presses Save.

/* ------------------------------------------------------------------ crypto */
// OpenSSL `enc -aes-256-cbc -a -pbkdf2 -iter 100000 -salt` compatible:
// base64("Salted__" + salt[8] + AES-256-CBC/PKCS#7 ciphertext),
// key || iv = PBKDF2-HMAC-SHA256(token, salt, 100000, 48 bytes).
const ITER = 100000;
const te = new TextEncoder();
const MAGIC = te.encode('Salted__');

function b64decode(text) {
  const clean = String(text).replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) throw new Error('not base64');
  const bin = atob(clean);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}
function b64encode(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(bin);
}
async function deriveKeyIv(token, salt) {
  const base = await crypto.subtle.importKey('raw', te.encode(token), 'PBKDF2', false, ['deriveBits']);
  const bits = new Uint8Array(await crypto.subtle.deriveBits(
    { name: 'PBKDF2', hash: 'SHA-256', salt, iterations: ITER }, base, 384));
  const key = await crypto.subtle.importKey('raw', bits.slice(0, 32), 'AES-CBC', false, ['encrypt', 'decrypt']);
  return { key, iv: bits.slice(32, 48) };
}
export async function decryptVault(text, token) {
  const data = b64decode(text);
  if (data.length < 32 || data.length % 16 || !MAGIC.every((b, i) => data[i] === b)) throw new Error('not an OpenSSL salted file');
  const { key, iv } = await deriveKeyIv(token, data.slice(8, 16));
  const plain = await crypto.subtle.decrypt({ name: 'AES-CBC', iv }, key, data.slice(16));
  return new TextDecoder('utf-8', { fatal: true }).decode(plain);
}
export async function encryptVault(plain, token) {
  const salt = crypto.getRandomValues(new Uint8Array(8));
  const { key, iv } = await deriveKeyIv(token, salt);
  const ct = new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-CBC', iv }, key, te.encode(plain)));
  const all = new Uint8Array(16 + ct.length);
  all.set(MAGIC); all.set(salt, 8); all.set(ct, 16);
  return b64encode(all).replace(/.{1,64}/g, '$&\n');
}
export function generateUserKey() {
  const b = b64encode(crypto.getRandomValues(new Uint8Array(32)));
  return 'sk-aiproxy-' + b.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
// Handy for tests and for the curious admin in the devtools console.
window.aiProxyVault = { decryptVault, encryptVault, generateUserKey };

/* ------------------------------------------------------------------ helpers */
const $ = (sel, root = document) => root.querySelector(sel);
const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
let uidN = 0;
const uid = () => 'u' + (++uidN);

function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  let value;
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'value') value = v;
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (k === 'tid') el.dataset.testid = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const kid of kids.flat()) if (kid != null && kid !== false) el.append(kid);
  if (value !== undefined) el.value = value;
  return el;
}
const btn = (label, onclick, props = {}) => h('button', { type: 'button', ...props, onclick }, label);

/* ------------------------------------------------------------------ state */
const TOKEN_KEY = 'ai-proxy.vault-token';
const S = {
  token: null, vault: null, etag: null, exists: false, dirty: false, issues: [],
  tab: {},        // provider name -> 'keys' | 'models'
  vanished: {},   // provider name -> Map(model object -> checked)
  discover: {},   // provider name -> {text, kind}
  users: null, usersEtag: null, usersDirty: false, usersIssues: [],
};
const P = () => S.vault.providers;
const cardOf = (name) => $(`.provider[data-provider="${CSS.escape(name)}"]`);

let statusTimer = 0;
function setStatus(text, kind = 'info', transient = false) {
  const el = $('#status');
  clearTimeout(statusTimer);
  if (transient) statusTimer = setTimeout(() => { if (el.textContent === text) setStatus(''); }, 4000);
  el.hidden = !text;
  el.textContent = text || '';
  el.dataset.kind = kind;
}
function markDirty() { S.dirty = true; showDirty(); }
function showDirty() {
  $('#dirty').hidden = !S.dirty;
  $('#save-vault').classList.toggle('attention', S.dirty);
  $('#users-dirty').hidden = !S.usersDirty;
  document.title = (S.dirty || S.usersDirty ? '• ' : '') + 'ai-proxy · vault editor';
}
window.addEventListener('beforeunload', (e) => {
  if (S.dirty || S.usersDirty) { e.preventDefault(); e.returnValue = ''; }
});

async function api(method, url, { json, body, headers = {} } = {}) {
  const h2 = { ...headers };
  if (S.token) h2.Authorization = 'Bearer ' + S.token;
  if (json !== undefined) { h2['Content-Type'] = 'application/json'; body = JSON.stringify(json); }
  const res = await fetch(url, { method, headers: h2, body, cache: 'no-store' });
  let data = null;
  const text = await res.text();
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  return { res, data };
}
function errText(res, data) {
  const m = data && data.error && data.error.message;
  return m ? `${m} (HTTP ${res.status})` : `HTTP ${res.status} ${res.statusText || ''}`.trim();
}
async function copyText(text, b) {
  try { await navigator.clipboard.writeText(text); }
  catch {
    const t = h('textarea', { class: 'sr', 'aria-hidden': 'true' }); t.value = text;
    document.body.append(t); t.select(); document.execCommand('copy'); t.remove();
  }
  if (!b) return setStatus('Copied to the clipboard.', 'ok', true);
  const was = b.textContent;
  b.textContent = 'Copied';
  setTimeout(() => { b.textContent = was; }, 1500);
}

/* ------------------------------------------------------------------ unlock */
async function openVault(token) {
  const res = await fetch('/ai.json.enc', { cache: 'no-store' });
  if (res.status === 404) return { missing: true };
  if (!res.ok) throw new Error(`Could not download the vault (HTTP ${res.status}).`);
  const text = await res.text();
  let vault;
  try { vault = JSON.parse(await decryptVault(text, token)); } catch { vault = null; }
  if (!vault || typeof vault !== 'object' || Array.isArray(vault)) throw new Error('Wrong token or corrupted vault.');
  if (!vault.providers || typeof vault.providers !== 'object') vault.providers = {};
  return { vault, etag: res.headers.get('ETag') };
}
function unlockMsg(text, kind = 'error') {
  const m = $('#unlock-msg'); m.hidden = !text; m.textContent = text || ''; m.dataset.kind = kind;
}
async function unlock(token) {
  $('#create-box').hidden = true;
  if (!token) return unlockMsg('Enter the vault token.');
  if (!window.crypto || !crypto.subtle) return unlockMsg('This page needs WebCrypto: open it over HTTPS or from localhost.');
  $('#unlock').disabled = true;
  unlockMsg('Decrypting…', 'info');
  try {
    const got = await openVault(token);
    S.token = token;
    if ($('#remember').checked) sessionStorage.setItem(TOKEN_KEY, token); else sessionStorage.removeItem(TOKEN_KEY);
    if (got.missing) {
      unlockMsg('');
      $('#create-box').hidden = false;
      $('#create-vault').focus();
      return;
    }
    unlockMsg('');
    enterApp(got.vault, got.etag, true);
  } catch (e) {
    unlockMsg(e.message || 'Wrong token or corrupted vault.');
  } finally { $('#unlock').disabled = false; }
}
function enterApp(vault, etag, exists) {
  Object.assign(S, { vault, etag, exists, dirty: !exists, issues: [], tab: {}, vanished: {}, discover: {},
    users: null, usersEtag: null, usersDirty: false, usersIssues: [] });
  $('#token').value = '';
  $('#unlock-view').hidden = true;
  $('#app-view').hidden = false;
  $('#top-actions').hidden = false;
  $('#conflict').hidden = true;
  selectView('providers');
  renderProviders();
  renderIssues();
  showDirty();
  setStatus(exists ? `Vault unlocked: ${Object.keys(P()).length} provider(s).` : 'New empty vault — press Save vault to store it.', 'ok');
}
function lock() {
  Object.assign(S, { token: null, vault: null, etag: null, dirty: false, usersDirty: false, users: null });
  sessionStorage.removeItem(TOKEN_KEY);
  $('#remember').checked = false;
  $('#providers').replaceChildren();
  $('#users').replaceChildren();
  $('#app-view').hidden = true;
  $('#top-actions').hidden = true;
  $('#unlock-view').hidden = false;
  showDirty();
  setStatus('Token forgotten.', 'info');
  $('#token').focus();
}
async function reloadVault() {
  try {
    const got = await openVault(S.token);
    if (got.missing) throw new Error('The vault no longer exists on the server.');
    enterApp(got.vault, got.etag, true);
    setStatus('Vault reloaded from the server.', 'ok');
  } catch (e) { setStatus(e.message, 'error'); }
}

/* ------------------------------------------------------------------ save */
async function saveVault() {
  if (!S.vault) return;
  const b = $('#save-vault');
  b.disabled = true;
  setStatus('Encrypting and saving…', 'info');
  try {
    const text = await encryptVault(JSON.stringify(S.vault, null, 2) + '\n', S.token);
    const headers = { 'Content-Type': 'text/plain' };
    if (S.exists && S.etag) headers['If-Match'] = S.etag;
    else if (!S.exists) headers['If-None-Match'] = '*';
    const { res, data } = await api('PUT', '/ai.json.enc', { body: text, headers });
    if (res.ok) {
      S.etag = (data && data.etag) || res.headers.get('ETag') || S.etag;
      S.exists = true; S.dirty = false; S.issues = [];
      renderIssues(); applyIssues();
      setStatus('Vault saved.', 'ok');
    } else if (res.status === 412) {
      $('#conflict').hidden = false;
      setStatus('Not saved: someone else saved the vault since you opened it.', 'error');
      $('#conflict-reload').focus();
    } else if (res.status === 422) {
      S.issues = (data && data.error && data.error.issues) || [];
      renderIssues(); applyIssues();
      setStatus(`Not saved: the server found ${S.issues.length} problem(s) in the vault.`, 'error');
    } else if (res.status === 401 || res.status === 403) {
      setStatus('Not saved: the server refused this token. ' + errText(res, data), 'error');
    } else if (res.status === 413) {
      setStatus('Not saved: the vault is too large for the server. ' + errText(res, data), 'error');
    } else {
      setStatus('Not saved: ' + errText(res, data), 'error');
    }
  } catch (e) {
    setStatus('Not saved: ' + (e.message || 'network error'), 'error');
  } finally { b.disabled = false; showDirty(); }
}

/* ------------------------------------------------------------------ issues */
// JSON paths as the server writes them: parent.name, or parent["name"] when
// the name is not a plain word; items as parent[3].
const child = (parent, name) => (/^[A-Za-z0-9_@-]+$/.test(name)
  ? (parent ? `${parent}.${name}` : name) : `${parent}[${JSON.stringify(name)}]`);
function findPathEl(root, path) {
  let p = String(path || '').replace(/^users\./, '');
  while (p) {
    const el = root.querySelector(`[data-path="${CSS.escape(p)}"]`);
    if (el) return el;
    const cut = p.search(/(\.[^.[\]]*|\[(\d+|"([^"\\]|\\.)*")\])$/);
    if (cut <= 0) break;
    p = p.slice(0, cut);
  }
  return null;
}
function applyIssues(root = $('#providers'), issues = S.issues) {
  $$('.field-error', root).forEach((e) => e.remove());
  $$('[aria-invalid]', root).forEach((e) => { e.removeAttribute('aria-invalid'); e.removeAttribute('aria-describedby'); });
  $$('.has-issue', root).forEach((e) => e.classList.remove('has-issue'));
  const shown = new Set();
  for (const is of issues) {
    const el = findPathEl(root, is.path);
    if (!el) continue;
    const panel = el.closest('[data-panel]');
    if (panel) {
      const c = panel.closest('.provider');
      $(`[data-tab="${panel.dataset.panel}"]`, c).classList.add('has-issue');
      if (panel.hidden && !shown.has(c)) selectTab(c.dataset.provider, panel.dataset.panel);
      shown.add(c);
    }
    const msg = h('div', { class: 'field-error', id: uid(), tid: 'field-error', 'data-for-path': is.path }, is.message || 'invalid');
    const isInput = el.matches('input,select,textarea');
    if (isInput) { el.setAttribute('aria-invalid', 'true'); el.setAttribute('aria-describedby', msg.id); }
    (isInput ? el.closest('.f') || el.parentElement : el).append(msg);
  }
}
function issueList(box, issues, root, title) {
  box.hidden = !issues.length;
  box.replaceChildren();
  if (!issues.length) return;
  box.append(h('strong', {}, title), h('ul', {}, issues.map((is) => h('li', {},
    btn(is.path || '(vault)', () => {
      const el = findPathEl(root, is.path);
      if (el) { el.scrollIntoView({ block: 'center' }); (el.matches('input,select,textarea,button') ? el : $('input,select', el) || el).focus(); }
    }, { class: 'link', 'aria-label': `Go to ${is.path}` }),
    ': ', is.message || 'invalid'))));
}
function renderIssues() { issueList($('#issues'), S.issues, $('#providers'), 'The server rejected the vault:'); }

/* ------------------------------------------------------------------ fields */
function setValue(obj, key, v) { if (v === undefined) delete obj[key]; else obj[key] = v; }
const optStr = (v) => (v === '' ? undefined : v);
const numOrNull = (v) => (v.trim() === '' ? null : Number(v));
const tagsParse = (v) => { const t = v.split(',').map((s) => s.trim()).filter(Boolean); return t.length ? t : undefined; };

function field(label, obj, key, path, o = {}) {
  const id = uid();
  let v = obj[key];
  if (Array.isArray(v)) v = v.join(', ');
  const input = h('input', {
    id, type: o.type || 'text', 'data-path': path, value: v == null ? '' : String(v), placeholder: o.placeholder,
    list: o.list, autocomplete: 'off', spellcheck: 'false', tid: o.tid, inputmode: o.inputmode, min: o.min, step: o.step,
  });
  input.addEventListener('input', () => {
    setValue(obj, key, o.parse ? o.parse(input.value) : input.value);
    if (o.after) o.after(input.value);
    (o.dirty || markDirty)();
  });
  return h('div', { class: 'f' + (o.cls ? ' ' + o.cls : '') }, h('label', { class: 'fl', for: id }, label), input);
}
function numField(label, obj, key, path, o = {}) {
  return field(label, obj, key, path, { type: 'number', min: 0, step: 1, inputmode: 'numeric', parse: numOrNull, ...o });
}
function secretField(label, obj, key, path, o = {}) {
  const id = uid();
  const what = o.what || label;
  const input = h('input', {
    id, type: 'password', class: 'secret', 'data-path': path, value: obj[key] == null ? '' : String(obj[key]),
    autocomplete: 'off', spellcheck: 'false', tid: o.tid, placeholder: o.placeholder,
  });
  input.addEventListener('input', () => { setValue(obj, key, o.optional ? optStr(input.value) : input.value); markDirty(); });
  const reveal = btn('Show', () => {
    const show = input.type === 'password';
    input.type = show ? 'text' : 'password';
    reveal.textContent = show ? 'Hide' : 'Show';
    reveal.setAttribute('aria-pressed', String(show));
  }, { class: 'small', 'aria-label': `Reveal ${what}`, 'aria-pressed': 'false', tid: (o.tid || 'secret') + '-reveal' });
  const copy = btn('Copy', () => copyText(input.value, copy), { class: 'small', 'aria-label': `Copy ${what}`, tid: (o.tid || 'secret') + '-copy' });
  return h('div', { class: 'f' + (o.cls ? ' ' + o.cls : '') }, h('label', { class: 'fl', for: id }, label),
    h('div', { class: 'inline' }, input, reveal, copy));
}

/* ------------------------------------------------------------------ providers */
function renderProviders() {
  const box = $('#providers');
  box.replaceChildren();
  const names = Object.keys(P());
  if (!names.length) box.append(h('p', { class: 'empty card' }, 'No providers yet. Add one above, then its keys and models.'));
  for (const n of names) box.append(providerCard(n));
  applyIssues();
}
function providerCard(name) {
  const p = P()[name];
  const base = child('providers', name);
  const tab = S.tab[name] || 'keys';
  const hid = uid();
  const keysId = uid(), modelsId = uid(), tkId = uid(), tmId = uid();
  const nKeys = Array.isArray(p.keys) ? p.keys.length : 0;
  const nModels = Array.isArray(p.models) ? p.models.length : 0;
  const title = h('div', { class: 'title' }, h('h2', { id: hid }, name),
    h('span', { class: 'pill' }, p.protocol || 'no protocol'));
  const actions = h('div', { class: 'actions' },
    btn('Rename', () => startRename(name, title, actions), { 'aria-label': `Rename provider ${name}`, tid: 'provider-rename' }),
    btn('Remove', () => removeProvider(name), { class: 'danger', 'aria-label': `Remove provider ${name}`, tid: 'provider-remove' }));
  const tabBtn = (id, panelId, key, label, n) => h('button', {
    type: 'button', role: 'tab', id, 'aria-controls': panelId, 'aria-selected': String(tab === key),
    tabindex: tab === key ? '0' : '-1', tid: `provider-tab-${key}`, 'data-tab': key,
    onclick: () => selectTab(name, key), onkeydown: (e) => {
      if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') { const k = key === 'keys' ? 'models' : 'keys'; selectTab(name, k); $(`[data-tab="${k}"]`, cardOf(name)).focus(); }
    },
  }, label, ' ', h('span', { class: 'count' }, String(n)));
  return h('section', { class: 'card provider', 'data-provider': name, 'data-path': base, tid: 'provider-card', 'aria-labelledby': hid },
    h('div', { class: 'card-head' }, title, actions),
    h('div', { class: 'grid pfields' },
      field('Protocol', p, 'protocol', `${base}.protocol`, { list: 'protocols', tid: 'provider-protocol', after: (v) => { $('.pill', title).textContent = v || 'no protocol'; } }),
      field('Endpoint', p, 'endpoint', `${base}.endpoint`, { parse: optStr, inputmode: 'url', placeholder: 'https://api.groq.com/openai/v1', tid: 'provider-endpoint' }),
      field('Gateway endpoint', p, 'gatewayEndpoint', `${base}.gatewayEndpoint`, { parse: optStr, inputmode: 'url', placeholder: 'https://gateway.ai.cloudflare.com/v1/{account}/default/compat', tid: 'provider-gateway-endpoint' }),
      field('Gateway model prefix', p, 'gatewayModelPrefix', `${base}.gatewayModelPrefix`, { parse: optStr, tid: 'provider-gateway-prefix' }),
      secretField('Gateway key', p, 'gatewayKey', `${base}.gatewayKey`, { optional: true, what: `gateway key of ${name}`, tid: 'provider-gateway-key', placeholder: 'optional' })),
    h('div', { class: 'tabs', role: 'tablist', 'aria-label': `${name} sections` },
      tabBtn(tkId, keysId, 'keys', 'Keys', nKeys), tabBtn(tmId, modelsId, 'models', 'Models', nModels)),
    h('div', { id: keysId, role: 'tabpanel', 'aria-labelledby': tkId, 'data-panel': 'keys', hidden: tab !== 'keys' }, keysPanel(name, p)),
    h('div', { id: modelsId, role: 'tabpanel', 'aria-labelledby': tmId, 'data-panel': 'models', hidden: tab !== 'models' }, modelsPanel(name, p)));
}
function selectTab(name, key) {
  S.tab[name] = key;
  const card = cardOf(name);
  if (!card) return;
  for (const t of $$('[role=tab]', card)) { const on = t.dataset.tab === key; t.setAttribute('aria-selected', String(on)); t.tabIndex = on ? 0 : -1; }
  for (const pn of $$('[data-panel]', card)) pn.hidden = pn.dataset.panel !== key;
}
function refreshPanel(name, key) {
  const card = cardOf(name);
  const p = P()[name];
  const panel = $(`[data-panel="${key}"]`, card);
  panel.replaceChildren(key === 'keys' ? keysPanel(name, p) : modelsPanel(name, p));
  const list = key === 'keys' ? p.keys : p.models;
  $(`[data-tab="${key}"] .count`, card).textContent = String(Array.isArray(list) ? list.length : 0);
  applyIssues();
}
// The server's rules: provider names become URL segments.
function validName(n, exists, user) {
  if (!n) return 'Enter a name.';
  if (user ? !/^[A-Za-z0-9_.@-]+$/.test(n) : !/^[a-z0-9_-]+$/.test(n)) {
    return user ? 'Use only letters, digits, "_", ".", "@" and "-".' : 'Use only a-z, 0-9, "_" and "-".';
  }
  if (exists) return `"${n}" already exists.`;
  return null;
}
function addProvider(e) {
  e.preventDefault();
  const input = $('#new-provider');
  const n = input.value.trim();
  const err = validName(n, S.vault.providers[n] !== undefined);
  if (err) { setStatus(err, 'error'); input.focus(); return; }
  P()[n] = { protocol: 'openai', gatewayModelPrefix: n, keys: [], models: [] };
  input.value = '';
  markDirty();
  renderProviders();
  setStatus(`Provider ${n} added.`, 'ok');
  $('[data-testid="provider-endpoint"]', cardOf(n)).focus();
}
function removeProvider(name) {
  delete P()[name];
  delete S.tab[name]; delete S.vanished[name]; delete S.discover[name];
  markDirty();
  renderProviders();
  setStatus(`Provider ${name} removed (not saved yet).`, 'info');
  $('#new-provider').focus();
}
function startRename(name, title, actions) {
  const id = uid();
  const input = h('input', { id, value: name, tid: 'rename-input', autocomplete: 'off', spellcheck: 'false' });
  const done = (ok) => {
    if (ok) {
      const nn = input.value.trim();
      if (nn !== name) {
        const err = validName(nn, P()[nn] !== undefined);
        if (err) { setStatus(err, 'error'); input.focus(); return; }
        renameProvider(name, nn);
        return;
      }
    }
    renderProviders();
  };
  input.addEventListener('keydown', (e) => { if (e.key === 'Enter') { e.preventDefault(); done(true); } if (e.key === 'Escape') done(false); });
  title.replaceChildren(h('label', { class: 'sr', for: id }, `New name for ${name}`), input);
  actions.replaceChildren(btn('OK', () => done(true), { class: 'primary', tid: 'rename-ok', 'aria-label': 'Apply new name' }),
    btn('Cancel', () => done(false), { tid: 'rename-cancel' }));
  input.focus(); input.select();
}
function renameProvider(old, nn) {
  const prov = P();
  const entries = Object.entries(prov);
  for (const [k] of entries) delete prov[k];
  for (const [k, v] of entries) prov[k === old ? nn : k] = v;   // same object, same order
  for (const m of [S.tab, S.vanished, S.discover]) if (old in m) { m[nn] = m[old]; delete m[old]; }
  markDirty();
  renderProviders();
  setStatus(`Provider ${old} renamed to ${nn}.`, 'ok');
  $('[data-testid="provider-rename"]', cardOf(nn)).focus();
}

/* ------------------------------------------------------------------ keys */
function keysPanel(name, p) {
  const keys = Array.isArray(p.keys) ? p.keys : [];
  const base = child(child('providers', name), 'keys');
  const rows = h('div', { class: 'rows krows', role: 'list', 'aria-label': `${name} keys` });
  keys.forEach((k, i) => {
    const path = `${base}[${i}]`;
    const typeF = field('Type', k, 'type', `${path}.type`, { list: 'key-types', parse: optStr, tid: 'key-type',
      after: (v) => row.classList.toggle('is-expired', v === 'expired') });
    const row = h('div', { class: 'row krow' + (k.type === 'expired' ? ' is-expired' : ''), role: 'listitem', tid: 'key-row', 'data-key-index': i, 'data-path': path },
      secretField('Key', k, 'key', `${path}.key`, { what: `key ${i + 1} of ${name}`, tid: 'key' }),
      field('Owner', k, 'owner', `${path}.owner`, { parse: optStr, tid: 'key-owner' }),
      typeF,
      field('Expires at', k, 'expiresAt', `${path}.expiresAt`, { parse: optStr, placeholder: 'never', tid: 'key-expires' }),
      h('div', { class: 'row-actions' },
        btn('Mark expired', () => {
          k.type = 'expired'; $('input', typeF).value = 'expired'; row.classList.add('is-expired'); markDirty();
          setStatus(`Key ${i + 1} of ${name} marked expired.`, 'info');
        }, { class: 'small', 'aria-label': `Mark key ${i + 1} of ${name} expired`, tid: 'key-mark-expired' }),
        btn('Remove', () => { keys.splice(i, 1); markDirty(); refreshPanel(name, 'keys'); setStatus(`Key ${i + 1} of ${name} removed.`, 'info'); },
          { class: 'small danger', 'aria-label': `Remove key ${i + 1} of ${name}`, tid: 'key-remove' })));
    rows.append(row);
  });
  return h('div', {},
    keys.length ? h('div', { class: 'rows-head krow', 'aria-hidden': 'true' }, h('span', {}, 'Key'), h('span', {}, 'Owner'), h('span', {}, 'Type'), h('span', {}, 'Expires at'), h('span', {}))
      : h('p', { class: 'muted' }, 'No keys yet.'),
    rows,
    h('div', { class: 'toolbar' }, btn('Add key', () => {
      if (!Array.isArray(p.keys)) p.keys = [];
      p.keys.push({ key: '', type: 'paid' });
      markDirty(); refreshPanel(name, 'keys');
      const inputs = $$('[data-testid="key"]', cardOf(name));
      inputs[inputs.length - 1].focus();
    }, { tid: 'add-key', 'aria-label': `Add a key to ${name}` })));
}

/* ------------------------------------------------------------------ models */
let drag = null;
function renumber(models) { models.forEach((m, i) => { m.priority = i * 10; }); }
function moveModel(name, from, to, focusTid) {
  const models = P()[name].models;
  if (to < 0 || to >= models.length || from === to) return;
  const [m] = models.splice(from, 1);
  models.splice(to, 0, m);
  renumber(models);
  markDirty();
  refreshPanel(name, 'models');
  setStatus(`Moved ${m.id} to position ${to + 1} (priority ${m.priority}).`, 'info');
  if (focusTid) {
    const row = $$('[data-testid="model-row"]', cardOf(name))[to];
    const b = row && $(`[data-testid="${focusTid}"]`, row);
    if (b) b.focus();
  }
}
function modelsPanel(name, p) {
  const models = Array.isArray(p.models) ? p.models : [];
  const van = S.vanished[name];
  const disc = S.discover[name];
  const rows = h('div', { class: 'rows mrows', role: 'list', 'aria-label': `${name} models in priority order` });
  models.forEach((m, i) => rows.append(modelRow(name, p, m, i, models.length)));
  const refresh = btn('Refresh from API', () => discover(name, refresh), { tid: 'refresh-models', 'aria-label': `Refresh ${name} models from the provider API` });
  let vbar = null;
  if (van && van.size) {
    const checked = [...van.values()].filter(Boolean).length;
    vbar = h('div', { class: 'banner warn', tid: 'vanished-bar' },
      h('span', {}, `${van.size} model(s) are not listed by the provider anymore. Checked ones are removed when you apply.`),
      h('span', { class: 'actions' },
        btn(`Remove checked (${checked})`, () => {
          p.models = models.filter((m) => !van.get(m));
          delete S.vanished[name];
          renumber(p.models); markDirty(); refreshPanel(name, 'models');
          setStatus(`${checked} model(s) removed from ${name}.`, 'info');
        }, { class: 'small danger', tid: 'apply-vanished' }),
        btn('Keep all', () => { delete S.vanished[name]; refreshPanel(name, 'models'); }, { class: 'small', tid: 'keep-vanished' })));
  }
  return h('div', {},
    h('div', { class: 'toolbar' },
      btn('Add model', () => {
        if (!Array.isArray(p.models)) p.models = [];
        const last = p.models[p.models.length - 1];
        p.models.push({ id: '', usage: 'chat', contextWindow: null, maxOutputTokens: null, tpmLimit: null, priority: last && Number.isFinite(last.priority) ? last.priority + 10 : p.models.length * 10 });
        markDirty(); refreshPanel(name, 'models');
        const ids = $$('[data-testid="model-id"]', cardOf(name));
        ids[ids.length - 1].focus();
      }, { tid: 'add-model', 'aria-label': `Add a model to ${name}` }),
      refresh,
      h('span', { class: 'disc ' + (disc ? disc.kind : ''), role: 'status', tid: 'discover-status' }, disc ? disc.text : '')),
    vbar,
    models.length ? h('div', { class: 'rows-head mrow', 'aria-hidden': 'true' },
      ['', 'Model id', 'Usage', 'Context', 'Max output', 'TPM limit', 'Tags', 'Gateway prefix', 'Priority', ''].map((t) => h('span', {}, t)))
      : h('p', { class: 'muted' }, 'No models yet. Add one, or refresh from the provider API.'),
    rows);
}
function modelRow(name, p, m, i, n) {
  const path = `${child(child('providers', name), 'models')}[${i}]`;
  const van = S.vanished[name];
  const gone = van && van.has(m);
  const label = () => m.id || `model ${i + 1}`;
  const up = btn('↑', () => moveModel(name, i, i - 1, i - 1 <= 0 ? 'model-down' : 'model-up'),
    { class: 'small icon', 'aria-label': `Move ${label()} up`, tid: 'model-up', 'aria-disabled': i === 0 ? 'true' : null });
  const down = btn('↓', () => moveModel(name, i, i + 1, i + 1 >= n - 1 ? 'model-up' : 'model-down'),
    { class: 'small icon', 'aria-label': `Move ${label()} down`, tid: 'model-down', 'aria-disabled': i === n - 1 ? 'true' : null });
  const rm = btn('✕', () => {
    p.models.splice(i, 1); if (van) van.delete(m); markDirty(); refreshPanel(name, 'models');
    setStatus(`Model ${label()} removed from ${name}.`, 'info');
  }, { class: 'small icon danger', 'aria-label': `Remove ${label()}`, tid: 'model-remove' });
  const usageId = uid();
  const usages = ['chat', 'embedding'];
  if (m.usage != null && !usages.includes(m.usage)) usages.push(String(m.usage));
  const usage = h('select', { id: usageId, 'data-path': `${path}.usage`, tid: 'model-usage', value: m.usage == null ? '' : String(m.usage),
    onchange: () => { m.usage = usage.value; markDirty(); } },
  m.usage == null ? h('option', { value: '' }, '—') : null, usages.map((u) => h('option', { value: u }, u)));
  const handle = h('span', { class: 'handle', draggable: 'true', title: 'Drag to reorder', role: 'img', 'aria-label': `Drag handle for ${label()}`, tid: 'model-handle' }, '⠿');
  const row = h('div', { class: 'row mrow' + (gone ? ' is-gone' : ''), role: 'listitem', tid: 'model-row', 'data-model-id': m.id == null ? '' : String(m.id), 'data-index': i, 'data-path': path },
    handle,
    field('Model id', m, 'id', `${path}.id`, { tid: 'model-id', cls: 'mid', after: (v) => {
      row.dataset.modelId = v;
      up.setAttribute('aria-label', `Move ${v || `model ${i + 1}`} up`);
      down.setAttribute('aria-label', `Move ${v || `model ${i + 1}`} down`);
      rm.setAttribute('aria-label', `Remove ${v || `model ${i + 1}`}`);
    } }),
    h('div', { class: 'f' }, h('label', { class: 'fl', for: usageId }, 'Usage'), usage),
    numField('Context', m, 'contextWindow', `${path}.contextWindow`, { tid: 'model-context' }),
    numField('Max output', m, 'maxOutputTokens', `${path}.maxOutputTokens`, { tid: 'model-max-output' }),
    numField('TPM limit', m, 'tpmLimit', `${path}.tpmLimit`, { tid: 'model-tpm', placeholder: 'none' }),
    field('Tags', m, 'tags', `${path}.tags`, { parse: tagsParse, tid: 'model-tags' }),
    field('Gateway prefix', m, 'gatewayPrefix', `${path}.gatewayPrefix`, { parse: optStr, tid: 'model-gateway-prefix', placeholder: 'default' }),
    h('div', { class: 'f prio' }, h('span', { class: 'fl' }, 'Priority'), h('output', { tid: 'model-priority', 'aria-label': `Priority of ${label()}` }, m.priority == null ? '—' : String(m.priority))),
    h('div', { class: 'row-actions' }, up, down, rm),
    gone ? h('label', { class: 'gone' }, h('input', { type: 'checkbox', checked: van.get(m), tid: 'vanished-check',
      onchange: (e) => { van.set(m, e.target.checked); refreshPanel(name, 'models'); } }),
    ' Not listed by provider anymore — remove') : null);
  handle.addEventListener('dragstart', (e) => {
    drag = { name, m };
    e.dataTransfer.effectAllowed = 'move';
    e.dataTransfer.setData('text/plain', String(m.id || ''));
    try { e.dataTransfer.setDragImage(row, 12, 12); } catch { /* optional */ }
    row.classList.add('dragging');
  });
  handle.addEventListener('dragend', () => { drag = null; $$('.drop-before,.drop-after,.dragging').forEach((r) => r.classList.remove('drop-before', 'drop-after', 'dragging')); });
  const after = (e) => { const r = row.getBoundingClientRect(); return e.clientY > r.top + r.height / 2; };
  row.addEventListener('dragover', (e) => {
    if (!drag || drag.name !== name) return;
    e.preventDefault();
    e.dataTransfer.dropEffect = 'move';
    const a = after(e);
    row.classList.toggle('drop-after', a); row.classList.toggle('drop-before', !a);
  });
  row.addEventListener('dragleave', () => row.classList.remove('drop-before', 'drop-after'));
  row.addEventListener('drop', (e) => {
    if (!drag || drag.name !== name) return;
    e.preventDefault();
    const models = p.models;
    const from = models.indexOf(drag.m);
    let to = models.indexOf(m) + (after(e) ? 1 : 0);
    if (from < to) to -= 1;
    drag = null;
    if (from < 0 || from === to) { refreshPanel(name, 'models'); return; }
    moveModel(name, from, to);
  });
  return row;
}
export function mergeDiscovered(models, found) {
  const byId = new Map();
  for (const f of found) if (f && typeof f.id === 'string' && !byId.has(f.id)) byId.set(f.id, f);
  const known = new Set(models.map((m) => m.id));
  const vanished = [];
  for (const m of models) {
    const f = byId.get(m.id);
    if (!f) { vanished.push(m); continue; }
    for (const k of ['usage', 'contextWindow', 'maxOutputTokens']) if (f[k] !== undefined) m[k] = f[k];
  }
  const fresh = [...byId.values()].filter((f) => !known.has(f.id));
  const add = [...fresh.filter((f) => f.usage !== 'embedding'), ...fresh.filter((f) => f.usage === 'embedding')]
    .map((f) => ({ id: f.id, usage: f.usage, contextWindow: f.contextWindow ?? null, maxOutputTokens: f.maxOutputTokens ?? null, tpmLimit: f.tpmLimit ?? null, priority: 0 }));
  models.push(...add);
  renumber(models);
  return { added: add.length, vanished };
}
async function discover(name, b) {
  const p = P()[name];
  b.disabled = true;
  S.discover[name] = { text: 'Asking the provider…', kind: 'info' };
  const st = $('[data-testid="discover-status"]', cardOf(name));
  st.textContent = S.discover[name].text;
  try {
    const { res, data } = await api('POST', `/admin/providers/${encodeURIComponent(name)}/discover`, { json: { provider: p } });
    if (!res.ok || !data || !Array.isArray(data.models)) {
      S.discover[name] = { text: 'Discovery failed: ' + errText(res, data) + '. Model list unchanged.', kind: 'error' };
    } else {
      if (!Array.isArray(p.models)) p.models = [];
      const { added, vanished } = mergeDiscovered(p.models, data.models);
      if (vanished.length) S.vanished[name] = new Map(vanished.map((m) => [m, true])); else delete S.vanished[name];
      const skipped = Array.isArray(data.skipped) ? data.skipped.length : 0;
      S.discover[name] = { text: `${data.models.length} model(s) listed: ${added} new, ${vanished.length} not listed anymore, ${skipped} skipped.`, kind: 'ok' };
      markDirty();
    }
  } catch (e) {
    S.discover[name] = { text: 'Discovery failed: ' + (e.message || 'network error') + '. Model list unchanged.', kind: 'error' };
  }
  if (cardOf(name)) { refreshPanel(name, 'models'); $('[data-testid="refresh-models"]', cardOf(name)).focus(); }
}

/* ------------------------------------------------------------------ users */
function usersMsg(text, kind = 'info', reload = false) {
  const el = $('#users-status');
  el.hidden = !text; el.dataset.kind = kind;
  el.replaceChildren(text || '');
  if (reload) el.append(' ', btn('Reload users', loadUsers, { class: 'small', tid: 'users-conflict-reload' }));
}
async function loadUsers() {
  usersMsg('Loading users…');
  try {
    const { res, data } = await api('GET', '/admin/users');
    if (!res.ok) { usersMsg('Could not load users: ' + errText(res, data), 'error'); return; }
    S.users = (data && data.users) || {};
    S.usersEtag = (data && data.etag) || res.headers.get('ETag');
    S.usersDirty = false; S.usersIssues = [];
    renderUsers(); showDirty();
    usersMsg(`${Object.keys(S.users).length} user(s).`, 'ok');
  } catch (e) { usersMsg('Could not load users: ' + e.message, 'error'); }
}
function renderUsers() {
  const box = $('#users');
  box.replaceChildren();
  const names = Object.keys(S.users || {});
  if (!names.length) box.append(h('p', { class: 'muted' }, 'No users yet.'));
  else box.append(h('div', { class: 'rows-head urow', 'aria-hidden': 'true' }, ['Name', 'Owner', 'Type', ''].map((t) => h('span', {}, t))));
  const rows = h('div', { class: 'rows urows', role: 'list', 'aria-label': 'Users' });
  for (const n of names) {
    const u = S.users[n];
    const dirty = () => { S.usersDirty = true; showDirty(); };
    const up = child('', n);
    const owner = field('Owner', u, 'owner', `${up}.owner`, { parse: optStr, tid: 'user-owner', dirty });
    const type = field('Type', u, 'type', `${up}.type`, { list: 'user-types', parse: optStr, tid: 'user-type', dirty });
    rows.append(h('div', { class: 'row urow', role: 'listitem', tid: 'user-row', 'data-user': n, 'data-path': up },
      h('div', { class: 'f uname' }, h('span', { class: 'fl' }, 'Name'), h('strong', {}, n), u.key ? h('span', { class: 'pill new' }, 'new') : null),
      owner, type,
      h('div', { class: 'row-actions' }, btn('Remove', () => {
        delete S.users[n]; dirty(); renderUsers(); usersMsg(`User ${n} removed (not saved yet).`);
      }, { class: 'small danger', 'aria-label': `Remove user ${n}`, tid: 'user-remove' }))));
  }
  box.append(rows);
  applyIssues(box, S.usersIssues);
  issueList($('#users-issues'), S.usersIssues, box, 'The server rejected the users:');
}
function addUser(e) {
  e.preventDefault();
  if (!S.users) { usersMsg('Load the users first.', 'error'); return; }
  const n = $('#nu-name').value.trim();
  const err = validName(n, S.users[n] !== undefined, true);
  if (err) { usersMsg(err, 'error'); $('#nu-name').focus(); return; }
  const key = generateUserKey();
  const u = {};
  const owner = $('#nu-owner').value.trim(), type = $('#nu-type').value.trim();
  if (owner) u.owner = owner;
  if (type) u.type = type;
  u.key = key;
  S.users[n] = u;
  S.usersDirty = true; showDirty();
  $('#nu-name').value = ''; $('#nu-owner').value = '';
  renderUsers();
  usersMsg(`User ${n} added — press Save users to store it.`, 'ok');
  $('#key-user').textContent = n;
  $('#new-key').value = key;
  $('#key-dialog').showModal();
  $('#new-key').select();
}
async function saveUsers() {
  if (!S.users) return;
  const b = $('#save-users');
  b.disabled = true;
  usersMsg('Saving users…');
  try {
    const headers = S.usersEtag ? { 'If-Match': S.usersEtag } : {};
    const { res, data } = await api('PUT', '/admin/users', { json: S.users, headers });
    if (res.ok) {
      S.users = (data && data.users) || S.users;
      for (const u of Object.values(S.users)) delete u.key;
      S.usersEtag = (data && data.etag) || res.headers.get('ETag') || S.usersEtag;
      S.usersDirty = false; S.usersIssues = [];
      renderUsers();
      usersMsg('Users saved.', 'ok');
    } else if (res.status === 412) {
      usersMsg('Not saved: the users were changed elsewhere since you loaded them. Reload to see them (your changes will be lost).', 'error', true);
    } else if (res.status === 422) {
      S.usersIssues = (data && data.error && data.error.issues) || [];
      renderUsers();
      usersMsg(`Not saved: the server found ${S.usersIssues.length} problem(s).`, 'error');
    } else {
      usersMsg('Not saved: ' + errText(res, data), 'error');
    }
  } catch (e) { usersMsg('Not saved: ' + e.message, 'error'); }
  b.disabled = false; showDirty();
}

/* ------------------------------------------------------------------ views */
function selectView(v) {
  for (const [id, panel] of [['view-providers', 'providers-view'], ['view-users', 'users-view']]) {
    const on = id === 'view-' + v;
    const t = $('#' + id);
    t.setAttribute('aria-selected', String(on)); t.tabIndex = on ? 0 : -1;
    $('#' + panel).hidden = !on;
  }
  if (v === 'users' && S.token && !S.users) loadUsers();
}

/* ------------------------------------------------------------------ wiring */
let forgetArmed = false;
function init() {
  $('#unlock-form').addEventListener('submit', (e) => { e.preventDefault(); unlock($('#token').value); });
  $('#create-vault').addEventListener('click', () => { enterApp({ version: 1, providers: {} }, null, false); showDirty(); });
  $('#save-vault').addEventListener('click', saveVault);
  $('#conflict-reload').addEventListener('click', reloadVault);
  $('#forget-token').addEventListener('click', () => {
    if ((S.dirty || S.usersDirty) && !forgetArmed) {
      forgetArmed = true;
      setStatus('You have unsaved changes. Press "Forget token" again to discard them.', 'error');
      setTimeout(() => { forgetArmed = false; }, 5000);
      return;
    }
    forgetArmed = false;
    lock();
  });
  $('#add-provider-form').addEventListener('submit', addProvider);
  $('#add-user-form').addEventListener('submit', addUser);
  $('#save-users').addEventListener('click', saveUsers);
  $('#reload-users').addEventListener('click', loadUsers);
  $('#copy-new-key').addEventListener('click', (e) => copyText($('#new-key').value, e.currentTarget));
  // Wipe the key as the dialog is dismissed (submit runs before the dialog
  // closes; 'close' also covers Escape), so it never lingers in the page.
  $('#key-dialog form').addEventListener('submit', () => { $('#new-key').value = ''; });
  $('#key-dialog').addEventListener('close', () => { $('#new-key').value = ''; $('#key-user').textContent = ''; $('#nu-name').focus(); });
  for (const v of ['providers', 'users']) {
    $('#view-' + v).addEventListener('click', () => selectView(v));
    $('#view-' + v).addEventListener('keydown', (e) => {
      if (e.key === 'ArrowRight' || e.key === 'ArrowLeft') { const o = v === 'users' ? 'providers' : 'users'; selectView(o); $('#view-' + o).focus(); }
    });
  }
  const saved = sessionStorage.getItem(TOKEN_KEY);
  if (saved) { $('#remember').checked = true; unlock(saved); } else $('#token').focus();
}
init();

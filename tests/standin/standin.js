#!/usr/bin/env node
'use strict';
/*
 * Relay Server stand-in for tests, benchmarks and `make demo`.
 *
 * Loads a vault directory into Yjs documents built with the real `yjs`
 * package, shaped the way the Obsidian Relay plugin writes them
 * (relay.md §3): one folder document (`filemeta_v0` + legacy `docs`), one
 * document per note (root Y.Text `contents`), one per canvas (`nodes`,
 * `edges`, a Y.Text per text card, `relay` header) and content-addressed
 * blobs for attachments.  Serves the Relay Server HTTP API a sync client
 * uses (relay.md §4), applies scripted edits from several Yjs clients,
 * POSTs the webhooks Relay would send (relay.md §1.2), and fails on purpose
 * when told to.  CLI and control interface: tests/standin/README.md.
 */
const fs = require('fs');
const path = require('path');
const http = require('http');
const https = require('https');
const crypto = require('crypto');
const Y = require('yjs');
const canvasLib = require('./canvas.js');

// ---------------------------------------------------------------- options
const USAGE = `usage: standin.js [options]
  --vault DIR          load this vault directory (read-only)
  --synthetic N        instead of (or in addition to) a vault: N generated notes
  --synthetic-dir D    put the generated notes under folder D (default /Synthetic)
  --relay UUID         relay id (default: random)
  --folder UUID        shared folder id (default: random)
  --token TOKEN        bearer token Relay accepts (default: standin-token)
  --host ADDR          listen address (default 127.0.0.1)
  --port N             listen port (default 0: any free port)
  --public-url URL     base of the download URLs (default: the listen address)
  --tls-cert F --tls-key F   serve HTTPS instead of HTTP
  --webhook-url URL    POST webhooks there (one per Yjs update)
  --webhook-token T    send "Authorization: Bearer T" with webhooks
  --webhook-timeout-ms N   per webhook (default 5000, as Relay)
  --no-users           do not write the server's 'users' map on edits
  --seed S             seed for document ids (default: relay+folder)
  --verbose            log requests to stderr
  --help`;

function parseArgs(argv) {
  const o = {
    vault: null, synthetic: 0, syntheticDir: '/Synthetic', relay: null, folder: null,
    token: 'standin-token', host: '127.0.0.1', port: 0, publicUrl: null, tlsCert: null,
    tlsKey: null, webhookUrl: null, webhookToken: null, webhookTimeoutMs: 5000,
    users: true, seed: null, verbose: false,
  };
  const need = (i) => { if (i + 1 >= argv.length) die(`option ${argv[i]} needs a value`); return argv[i + 1]; };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    switch (a) {
      case '--vault': o.vault = need(i); i++; break;
      case '--synthetic': o.synthetic = parseInt(need(i), 10); i++; break;
      case '--synthetic-dir': o.syntheticDir = need(i); i++; break;
      case '--relay': o.relay = need(i).toLowerCase(); i++; break;
      case '--folder': o.folder = need(i).toLowerCase(); i++; break;
      case '--token': o.token = need(i); i++; break;
      case '--host': o.host = need(i); i++; break;
      case '--port': o.port = parseInt(need(i), 10); i++; break;
      case '--public-url': o.publicUrl = need(i).replace(/\/+$/, ''); i++; break;
      case '--tls-cert': o.tlsCert = need(i); i++; break;
      case '--tls-key': o.tlsKey = need(i); i++; break;
      case '--webhook-url': o.webhookUrl = need(i); i++; break;
      case '--webhook-token': o.webhookToken = need(i); i++; break;
      case '--webhook-timeout-ms': o.webhookTimeoutMs = parseInt(need(i), 10); i++; break;
      case '--no-users': o.users = false; break;
      case '--seed': o.seed = need(i); i++; break;
      case '--verbose': case '-v': o.verbose = true; break;
      case '--help': case '-h': process.stdout.write(USAGE + '\n'); process.exit(0); break;
      default: die(`unknown option '${a}'\n${USAGE}`);
    }
  }
  const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
  o.relay = o.relay || crypto.randomUUID();
  o.folder = o.folder || crypto.randomUUID();
  if (!UUID.test(o.relay)) die(`--relay '${o.relay}' is not a UUID`);
  if (!UUID.test(o.folder)) die(`--folder '${o.folder}' is not a UUID`);
  if (!o.vault && !o.synthetic) die('give --vault DIR and/or --synthetic N');
  if (!Number.isInteger(o.synthetic) || o.synthetic < 0) die('--synthetic: not a count');
  if ((o.tlsCert == null) !== (o.tlsKey == null)) die('--tls-cert and --tls-key go together');
  return o;
}
function die(msg) { process.stderr.write(`standin: ${msg}\n`); process.exit(2); }

const opt = parseArgs(process.argv.slice(2));
const log = (...a) => { if (opt.verbose) process.stderr.write(`standin: ${a.join(' ')}\n`); };
const seed = opt.seed || `${opt.relay}/${opt.folder}`;

// ------------------------------------------------------------ ids, types
/* A stable UUID (v4 layout) for a name, so the same vault gives the same ids. */
function stableUuid(name) {
  const h = crypto.createHash('sha256').update(`${seed}\0${name}`).digest('hex').split('');
  h[12] = '4';
  h[16] = '89ab'[parseInt(h[16], 16) & 3];
  const s = h.join('');
  return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20, 32)}`;
}
const sha256 = (buf) => crypto.createHash('sha256').update(buf).digest('hex');

/* extension -> [filemeta type, mimetype] (Relay plugin SyncTypes/mimetypes). */
const EXT = {
  md: ['markdown', 'text/markdown'], canvas: ['canvas', 'application/canvas+json'],
  png: ['image', 'image/png'], jpg: ['image', 'image/jpeg'], jpeg: ['image', 'image/jpeg'],
  gif: ['image', 'image/gif'], svg: ['image', 'image/svg+xml'], webp: ['image', 'image/webp'],
  avif: ['image', 'image/avif'], bmp: ['image', 'image/bmp'], pdf: ['pdf', 'application/pdf'],
  mp3: ['audio', 'audio/mpeg'], wav: ['audio', 'audio/wav'], flac: ['audio', 'audio/flac'],
  m4a: ['audio', 'audio/x-m4a'], ogg: ['audio', 'audio/ogg'], opus: ['audio', 'audio/opus'],
  mp4: ['video', 'video/mp4'], webm: ['video', 'video/webm'], ogv: ['video', 'video/ogg'],
  mov: ['video', 'video/quicktime'], mkv: ['video', 'video/x-matroska'],
  base: ['base', 'application/vnd.obsidian.base+yaml'],
  txt: ['file', 'text/plain'], json: ['file', 'application/json'], html: ['file', 'text/html'],
  css: ['file', 'text/css'], js: ['file', 'application/javascript'],
};
function typeFor(vpath) {
  const base = vpath.split('/').pop();
  const dot = base.lastIndexOf('.');
  const ext = dot > 0 ? base.slice(dot + 1).toLowerCase() : '';
  return EXT[ext] || ['file', 'application/octet-stream'];
}

// ------------------------------------------------------------ the store
const docs = new Map();      // doc uuid -> Y.Doc (server replica)
const kinds = new Map();     // doc uuid -> 'folder' | 'markdown' | 'canvas' | 'blob'
const blobs = new Map();     // `${doc uuid}/${hash}` -> Buffer
const CLIENT_IDS = new Map(); // user name -> Yjs client id
let nextClientId = 1000;
let loading = true;          // no webhooks while the vault is loaded
let synctimeBase = 1767225600000; // 2026-01-01T00:00:00Z, ms: deterministic loads

const folderDoc = new Y.Doc();
docs.set(opt.folder, folderDoc);
kinds.set(opt.folder, 'folder');
const filemeta = folderDoc.getMap('filemeta_v0');
const legacyDocs = folderDoc.getMap('docs');

function clientIdFor(user) {
  if (!CLIENT_IDS.has(user)) {
    // Deterministic, distinct, and spread over the 32-bit range like Yjs's random ids.
    const h = crypto.createHash('sha256').update(`client\0${user}`).digest();
    let id = h.readUInt32BE(0) >>> 1;
    const used = new Set(CLIENT_IDS.values());
    while (used.has(id) || id === 0) id = (id + 1) >>> 0;
    CLIENT_IDS.set(user, id);
  }
  return CLIENT_IDS.get(user);
}

function serverDoc(id) {
  let d = docs.get(id);
  if (!d) {
    d = new Y.Doc();
    docs.set(id, d);
    d.on('update', (update, origin) => onServerUpdate(id, update, origin));
  }
  return d;
}
folderDoc.on('update', (update, origin) => onServerUpdate(opt.folder, update, origin));

/* Run `fn(replicaDoc)` as Yjs client `user`: the client syncs from the
 * server, edits its own replica in one transaction, and its update is
 * applied to the server document (which fires one webhook), as a websocket
 * client of Relay would. */
function asClient(docId, user, fn) {
  const server = docId === opt.folder ? folderDoc : serverDoc(docId);
  if (loading) {
    // Bulk load: the loader edits the server replica directly (same bytes,
    // no per-file round trip through a second replica).
    const saved = server.clientID;
    server.clientID = clientIdFor(user);
    let r;
    server.transact(() => { r = fn(server); }, { user });
    server.clientID = saved;
    return r;
  }
  const rep = new Y.Doc();
  rep.clientID = clientIdFor(user);
  Y.applyUpdate(rep, Y.encodeStateAsUpdate(server));
  let update = null;
  const h = (u) => { update = update ? Y.mergeUpdates([update, u]) : u; };
  rep.on('update', h);
  let result;
  rep.transact(() => { result = fn(rep); });
  rep.off('update', h);
  rep.destroy();
  if (update) {
    if (opt.users && user !== 'loader') registerUser(server, user, update);
    Y.applyUpdate(server, update, { user });
    // the client's PermanentUserData pushes its delete set in a transaction of its own, right after
    for (const f of pendingDs.splice(0)) f();
  }
  return result;
}

/* What Relay Server does itself on a client's first write: record the
 * client id in the PermanentUserData map `users` (a server-internal write:
 * its webhook has user null), and what the client's PermanentUserData
 * pushes after a transaction that deleted something: the delete set bytes. */
const pendingDs = [];
function registerUser(server, user, update) {
  const users = server.getMap('users');
  const cid = clientIdFor(user);
  let u = users.get(user);
  if (!u || !u.get('ids').toArray().includes(cid)) {
    server.transact(() => {
      if (!u) {
        u = new Y.Map();
        u.set('ids', new Y.Array());
        u.set('ds', new Y.Array());
        users.set(user, u);
      }
      u.get('ids').push([cid]);
    }, { user: null });
  }
  // delete set of the client's update: strip every struct, keep the DS
  const dsOnly = Y.diffUpdate(update, Y.encodeStateVectorFromUpdate(update));
  if (dsOnly.length > 2) {
    pendingDs.push(() => server.transact(() => users.get(user).get('ds').push([dsOnly.slice(1)]), { user }));
  }
}

// ------------------------------------------------------------ folder helpers
function metaOf(vpath) { return filemeta.get(vpath); }

/* Set one filemeta entry the way the plugin's SyncStore.set does: the
 * legacy `docs` entry (markdown only) and filemeta_v0 in one transaction. */
function setMeta(f, vpath, meta) {
  if (meta.type === 'markdown' && f.getMap('docs').get(vpath) !== meta.id) f.getMap('docs').set(vpath, meta.id);
  f.getMap('filemeta_v0').set(vpath, meta);
}
function delMeta(f, vpath) {
  f.getMap('docs').delete(vpath);
  f.getMap('filemeta_v0').delete(vpath);
}
function mkFolderMeta(id) { return { version: 0, id, type: 'folder' }; }
function mkDocMeta(id, type) { return { version: 0, id, type }; }
function mkFileMeta(id, type, mimetype, hash, synctime) {
  return { version: 0, id, type, mimetype, synctime, hash };
}

/* Make sure every parent folder of vpath has a folder entry (inside a client transaction). */
function ensureParents(f, vpath) {
  const parts = vpath.split('/').slice(1, -1);
  let cur = '';
  for (const p of parts) {
    cur += '/' + p;
    if (!f.getMap('filemeta_v0').has(cur)) setMeta(f, cur, mkFolderMeta(stableUuid('folder:' + cur + ':' + Date.now())));
  }
}

function fillTextDoc(id, text, user) {
  asClient(id, user, (d) => { if (text.length) d.getText('contents').insert(0, text); });
}

/* Canvas content as the plugin uploads it: nodes and edges as plain JSON
 * values in root maps, a root Y.Text per text card, header map `relay`. */
function fillCanvasDoc(id, data, user) {
  asClient(id, user, (d) => {
    d.getMap('relay').set('v', 0);
    const nodes = d.getMap('nodes');
    const edges = d.getMap('edges');
    for (const n of (data && Array.isArray(data.nodes) ? data.nodes : [])) {
      nodes.set(n.id, n);
      if (n.type === 'text' && typeof n.text === 'string' && n.text.length) d.getText(n.id).insert(0, n.text);
    }
    for (const e of (data && Array.isArray(data.edges) ? data.edges : [])) edges.set(e.id, e);
  });
}

function putBlob(id, buf) {
  const hash = sha256(buf);
  blobs.set(`${id}/${hash}`, Buffer.from(buf));
  return hash;
}

/* Create a file of any kind at vpath (parents implied).  Returns its meta. */
function createFile(vpath, spec, user) {
  const [type, mimetype] = spec.type ? [spec.type, spec.mimetype || typeFor(vpath)[1]] : typeFor(vpath);
  const id = spec.id || stableUuid('file:' + vpath + (loading ? '' : ':' + Date.now() + ':' + Math.random()));
  let meta;
  if (type === 'markdown') {
    kinds.set(id, 'markdown');
    if (!spec.registerOnly) fillTextDoc(id, spec.text || '', user);
    meta = mkDocMeta(id, 'markdown');
  } else if (type === 'canvas') {
    kinds.set(id, 'canvas');
    if (!spec.registerOnly) fillCanvasDoc(id, spec.canvas || {}, user);
    meta = mkDocMeta(id, 'canvas');
  } else {
    kinds.set(id, 'blob');
    const hash = putBlob(id, spec.bytes || Buffer.alloc(0));
    meta = mkFileMeta(id, type, mimetype, hash, spec.synctime || (loading ? synctimeBase : Date.now()));
  }
  asClient(opt.folder, user, (f) => { ensureParents(f, vpath); setMeta(f, vpath, meta); });
  return meta;
}

// ------------------------------------------------------------ loading
function walk(dir, vdir, out) {
  const names = fs.readdirSync(dir).sort();
  for (const name of names) {
    const full = path.join(dir, name);
    const vpath = `${vdir}/${name}`;
    const st = fs.lstatSync(full);
    if (st.isDirectory()) { out.push({ vpath, dir: true }); walk(full, vpath, out); }
    else if (st.isFile()) out.push({ vpath, full });
  }
}

function loadVault(dir) {
  const items = [];
  walk(dir, '', items);
  for (const it of items) {
    if (it.dir) {
      asClient(opt.folder, 'loader', (f) => setMeta(f, it.vpath, mkFolderMeta(stableUuid('folder:' + it.vpath))));
      continue;
    }
    const bytes = fs.readFileSync(it.full);
    const [type] = typeFor(it.vpath);
    const spec = { id: stableUuid('file:' + it.vpath) };
    if (type === 'markdown') spec.text = bytes.toString('utf8');
    else if (type === 'canvas') spec.canvas = JSON.parse(bytes.toString('utf8'));
    else spec.bytes = bytes;
    createFile(it.vpath, spec, 'loader');
  }
}

function loadSynthetic(n, vdir) {
  asClient(opt.folder, 'loader', (f) => setMeta(f, vdir, mkFolderMeta(stableUuid('folder:' + vdir))));
  const per = 100; // notes per subfolder
  for (let i = 0; i < n; i++) {
    const sub = `${vdir}/Teil ${String(Math.floor(i / per)).padStart(3, '0')}`;
    if (i % per === 0) asClient(opt.folder, 'loader', (f) => setMeta(f, sub, mkFolderMeta(stableUuid('folder:' + sub))));
    const vpath = `${sub}/Notiz ${String(i).padStart(5, '0')}.md`;
    const h = sha256(`note ${i}`);
    let text = `---\ntags: [synthetisch, n${i % 17}]\n---\n# Notiz ${i}\n\n`;
    for (let k = 0; k < 12; k++) text += `Absatz ${k}: ${h.slice(k * 4, k * 4 + 16)} – Grüße aus der Übung №${i}.\n`;
    createFile(vpath, { id: stableUuid('file:' + vpath), text }, 'loader');
  }
}

// ------------------------------------------------------------ webhooks
const stats = newStats();
function newStats() {
  return { requests: 0, as_update: 0, download_url: 0, blob: 0, update_post: 0, unauthorized: 0,
    injected: 0, connections: 0, webhooks_queued: 0, webhooks_sent: 0, webhooks_failed: 0,
    per_doc: {}, blob_with_auth: 0 };
}
const webhookQueue = [];
let webhookBusy = false;
let flushWaiters = [];
let webhookAgent = null;

const clock0 = BigInt(Date.now()) * 1000000n - process.hrtime.bigint();
/* chrono's to_rfc3339(): nanoseconds, "+00:00"; monotonic within a run */
function rfc3339Now() {
  const ns = clock0 + process.hrtime.bigint();
  const d = new Date(Number(ns / 1000000n));
  return d.toISOString().slice(0, 19) + '.' + String(ns % 1000000000n).padStart(9, '0') + '+00:00';
}
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
function eventId() {
  const b = crypto.randomBytes(21);
  let s = 'evt_';
  for (const x of b) s += ALNUM[x % 62];
  return s;
}

function onServerUpdate(docId, update, origin) {
  if (loading || !opt.webhookUrl) return;
  const user = origin && typeof origin === 'object' && 'user' in origin ? origin.user : null;
  const body = JSON.stringify({
    eventType: 'document.updated', eventId: eventId(),
    payload: { doc_id: `${opt.relay}-${docId}`, metadata: {}, timestamp: rfc3339Now(), user },
  });
  webhookQueue.push(body);
  stats.webhooks_queued++;
  pumpWebhooks();
}

function pumpWebhooks() {
  if (webhookBusy) return;
  const body = webhookQueue.shift();
  if (body === undefined) { const w = flushWaiters; flushWaiters = []; w.forEach((f) => f()); return; }
  webhookBusy = true;
  const url = new URL(opt.webhookUrl);
  const lib = url.protocol === 'https:' ? https : http;
  if (!webhookAgent) webhookAgent = new lib.Agent({ keepAlive: true, maxSockets: 1 });
  const headers = { 'Content-Type': 'application/json', 'User-Agent': 'y-sweet-webhook/1.0.0',
    'Content-Length': Buffer.byteLength(body) };
  if (opt.webhookToken) headers.Authorization = `Bearer ${opt.webhookToken}`;
  let done = false;
  const finish = (ok, why) => {
    if (done) return;
    done = true;
    if (ok) stats.webhooks_sent++; else { stats.webhooks_failed++; log('webhook failed:', why); }
    webhookBusy = false;
    setImmediate(pumpWebhooks);
  };
  const req = lib.request(url, { method: 'POST', headers, agent: webhookAgent, timeout: opt.webhookTimeoutMs,
    rejectUnauthorized: false }, (res) => {
    res.resume();
    res.on('end', () => finish(res.statusCode >= 200 && res.statusCode < 300, `HTTP ${res.statusCode}`));
    res.on('error', (e) => finish(false, e.message));
  });
  req.on('timeout', () => { req.destroy(new Error('timeout')); });
  req.on('error', (e) => finish(false, e.message));
  req.end(body);
}
function flushWebhooks() {
  return new Promise((resolve) => {
    if (!webhookBusy && webhookQueue.length === 0) resolve();
    else flushWaiters.push(resolve);
  });
}

// ------------------------------------------------------------ failures
/* Failure rules: {match: regexp source tested against "METHOD /path?query",
 *  action: "status"|"slow"|"drop"|"wrong-bytes"|"truncate"|"hang",
 *  status, delay_ms, count (how many requests; default 1, -1 = forever)}. */
let rules = [];
function takeRule(reqLine) {
  for (const r of rules) {
    if (r.count === 0) continue;
    if (!r.re.test(reqLine)) continue;
    if (r.count > 0) r.count--;
    r.hits = (r.hits || 0) + 1;
    stats.injected++;
    return r;
  }
  return null;
}

// ------------------------------------------------------------ export helpers
/* Canvas data from a fresh document decoded from the server's update (what
 * a client would see): roots, texts of the other roots, nodes and edges as
 * [key, value] pairs in map iteration order. */
function canvasData(id) {
  return canvasLib.canvasDataOf(Y, Y.encodeStateAsUpdate(serverDoc(id)));
}
const obsidianCanvas = canvasLib.obsidianCanvas;

function textOf(id) {
  return serverDoc(id).getText('contents').toString();
}

/* Files of the shared folder as the plugin reads them (filemeta_v0 merged
 * with docs, relay.md §3.1): vpath -> meta. */
function liveEntries() {
  const out = new Map();
  filemeta.forEach((meta, p) => {
    if ((meta.type === 'markdown' || meta.type === 'document') && !legacyDocs.has(p)) return;
    out.set(p, meta);
  });
  legacyDocs.forEach((guid, p) => { if (!filemeta.has(p)) out.set(p, { version: 0, id: guid, type: 'markdown' }); });
  return out;
}

function treeInfo() {
  const entries = {};
  for (const [p, meta] of liveEntries()) {
    const e = { type: meta.type, id: meta.id };
    if (meta.type === 'markdown' || meta.type === 'document') {
      const d = docs.get(meta.id);
      e.never_written = !d || Y.encodeStateVector(d).length <= 1;
      if (!e.never_written) { const t = Buffer.from(textOf(meta.id), 'utf8'); e.sha256 = sha256(t); e.size = t.length; }
    } else if (meta.type === 'canvas') {
      const d = docs.get(meta.id);
      e.never_written = !d || Y.encodeStateVector(d).length <= 1;
    } else if (meta.type !== 'folder') {
      e.hash = meta.hash;
      const b = blobs.get(`${meta.id}/${meta.hash}`);
      if (b) e.size = b.length;
    }
    entries[p] = e;
  }
  return { relay: opt.relay, folder: opt.folder, entries };
}

/* Write the folder as a sync should produce it: notes' text, blobs' bytes,
 * canvases in Obsidian's format (the python-format oracle lives in the
 * tests).  Never-written docs are skipped.  Returns what was written. */
function exportTree(dir) {
  const written = [];
  for (const [p, meta] of liveEntries()) {
    const target = path.join(dir, ...p.split('/').filter(Boolean));
    if (meta.type === 'folder') { fs.mkdirSync(target, { recursive: true }); continue; }
    let bytes = null;
    if (meta.type === 'markdown' || meta.type === 'document') {
      const d = docs.get(meta.id);
      if (!d || Y.encodeStateVector(d).length <= 1) continue;
      bytes = Buffer.from(textOf(meta.id), 'utf8');
    } else if (meta.type === 'canvas') {
      const d = docs.get(meta.id);
      if (!d || Y.encodeStateVector(d).length <= 1) continue;
      bytes = Buffer.from(obsidianCanvas(canvasData(meta.id)), 'utf8');
    } else {
      bytes = blobs.get(`${meta.id}/${meta.hash}`);
      if (!bytes) continue;
    }
    fs.mkdirSync(path.dirname(target), { recursive: true });
    fs.writeFileSync(target, bytes);
    written.push(p);
  }
  return written;
}

// ------------------------------------------------------------ edits
function needMeta(p) {
  const m = metaOf(p);
  if (!m) throw new Error(`no entry '${p}'`);
  return m;
}
function b64(s) { return Buffer.from(s || '', 'base64'); }

/* Replace a Y.Text's content with the smallest single edit (common prefix
 * and suffix kept), as an editor would. */
function replaceText(yt, next) {
  const cur = yt.toString();
  if (cur === next) return;
  let a = 0;
  const max = Math.min(cur.length, next.length);
  while (a < max && cur[a] === next[a]) a++;
  let b = 0;
  while (b < max - a && cur[cur.length - 1 - b] === next[next.length - 1 - b]) b++;
  if (cur.length - a - b > 0) yt.delete(a, cur.length - a - b);
  const ins = next.slice(a, next.length - b);
  if (ins.length) yt.insert(a, ins);
}

function moveEntry(f, from, to) {
  const fm = f.getMap('filemeta_v0');
  const meta = fm.get(from);
  if (!meta) throw new Error(`no entry '${from}'`);
  if (fm.has(to)) throw new Error(`'${to}' exists`);
  ensureParents(f, to);
  if (meta.type === 'folder') {
    const moves = [];
    fm.forEach((m, p) => { if (p.startsWith(from + '/')) moves.push([p, m]); });
    f.getMap('docs').forEach((g, p) => { if (p.startsWith(from + '/') && !fm.has(p)) moves.push([p, null, g]); });
    fm.set(to, meta);
    fm.delete(from);
    for (const [p, m, g] of moves) {
      const np = to + p.slice(from.length);
      if (m) { setMeta(f, np, m); delMeta(f, p); } else { f.getMap('docs').set(np, g); f.getMap('docs').delete(p); }
    }
  } else {
    setMeta(f, to, meta);
    delMeta(f, from);
  }
}

function applyOp(op) {
  const user = op.user || 'alice';
  switch (op.op) {
    case 'type': {
      const m = needMeta(op.path);
      asClient(m.id, user, (d) => {
        const t = d.getText('contents');
        const pos = op.pos === undefined || op.pos === 'end' ? t.length : op.pos;
        t.insert(pos, op.text);
      });
      return { doc: m.id };
    }
    case 'erase': {
      const m = needMeta(op.path);
      asClient(m.id, user, (d) => d.getText('contents').delete(op.pos, op.len));
      return { doc: m.id };
    }
    case 'set': {
      const m = needMeta(op.path);
      asClient(m.id, user, (d) => replaceText(d.getText('contents'), op.text));
      return { doc: m.id };
    }
    case 'empty': {
      const m = needMeta(op.path);
      asClient(m.id, user, (d) => { const t = d.getText('contents'); if (t.length) t.delete(0, t.length); });
      return { doc: m.id };
    }
    case 'create': {
      if (metaOf(op.path)) throw new Error(`'${op.path}' exists`);
      const spec = { registerOnly: !!op.register_only, id: op.id };
      if (op.kind) spec.type = op.kind;
      if (op.text !== undefined) spec.text = op.text;
      if (op.canvas !== undefined) spec.canvas = op.canvas;
      if (op.data_b64 !== undefined) spec.bytes = b64(op.data_b64);
      if (op.file !== undefined) spec.bytes = fs.readFileSync(op.file);
      if (op.mimetype) spec.mimetype = op.mimetype;
      const meta = createFile(op.path, spec, user);
      return { doc: meta.id, meta };
    }
    case 'mkdir': {
      const id = stableUuid('folder:' + op.path + ':' + Date.now());
      asClient(opt.folder, user, (f) => { ensureParents(f, op.path); setMeta(f, op.path, mkFolderMeta(id)); });
      return { doc: id };
    }
    case 'rename': case 'move': {
      asClient(opt.folder, user, (f) => moveEntry(f, op.from, op.to));
      return { doc: metaOf(op.to).id };
    }
    case 'delete': {
      const m = op.legacy ? null : needMeta(op.path);
      asClient(opt.folder, user, (f) => {
        if (op.legacy) { f.getMap('docs').delete(op.path); return; } // an old client: docs entry only
        if (m.type === 'folder') {
          const fm = f.getMap('filemeta_v0');
          const kill = [];
          fm.forEach((_, p) => { if (p.startsWith(op.path + '/')) kill.push(p); });
          kill.forEach((p) => delMeta(f, p));
        }
        delMeta(f, op.path);
      });
      return { doc: m ? m.id : null };
    }
    case 'replace': {
      const m = needMeta(op.path);
      const bytes = op.file !== undefined ? fs.readFileSync(op.file) : op.text !== undefined ? Buffer.from(op.text, 'utf8') : b64(op.data_b64);
      const hash = putBlob(m.id, bytes);
      const meta = mkFileMeta(m.id, m.type, op.mimetype || m.mimetype, hash, Date.now());
      asClient(opt.folder, user, (f) => setMeta(f, op.path, meta));
      return { doc: m.id, meta };
    }
    case 'canvas': {
      const m = needMeta(op.path);
      asClient(m.id, user, (d) => {
        const nodes = d.getMap('nodes');
        const edges = d.getMap('edges');
        for (const n of op.set_nodes || []) {
          nodes.set(n.id, n);
          if (n.type === 'text' && typeof n.text === 'string') replaceText(d.getText(n.id), n.text);
        }
        for (const id of op.delete_nodes || []) nodes.delete(id);
        for (const [id, text] of Object.entries(op.card_text || {})) replaceText(d.getText(id), text);
        for (const e of op.set_edges || []) edges.set(e.id, e);
        for (const id of op.delete_edges || []) edges.delete(id);
      });
      return { doc: m.id };
    }
    case 'raw-filemeta': { // hostile or odd entries, written as any client could
      asClient(opt.folder, user, (f) => {
        if (op.value === null) f.getMap('filemeta_v0').delete(op.key);
        else f.getMap('filemeta_v0').set(op.key, op.value);
      });
      return {};
    }
    case 'raw-docs': {
      asClient(opt.folder, user, (f) => {
        if (op.value === null) f.getMap('docs').delete(op.key); else f.getMap('docs').set(op.key, op.value);
      });
      return {};
    }
    case 'raw-update': {
      const d = op.doc === opt.folder ? folderDoc : serverDoc(op.doc);
      Y.applyUpdate(d, b64(op.update_b64), { user: op.user || null });
      return { doc: op.doc };
    }
    case 'burst': { // `count` one-character edits spread round-robin over `paths`
      const paths = op.paths || [];
      if (!paths.length) throw new Error('burst needs paths');
      const metas = paths.map(needMeta);
      for (let i = 0; i < op.count; i++) {
        const m = metas[i % metas.length];
        asClient(m.id, op.users ? op.users[i % op.users.length] : user, (d) => { const t = d.getText('contents'); t.insert(t.length, op.text || '.'); });
      }
      return { edits: op.count };
    }
    default:
      throw new Error(`unknown op '${op.op}'`);
  }
}

// ------------------------------------------------------------ HTTP
const VERSION = 'standin-0.1.0';
function send(res, status, body, type) {
  if (res.writableEnded || res.destroyed) return;
  const buf = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
  res.writeHead(status, { 'Content-Type': type || 'application/json', 'Content-Length': buf.length,
    'relay-server-version': VERSION });
  res.end(buf);
}
function readBody(req, max = 256 * 1024 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let n = 0;
    req.on('data', (c) => { n += c.length; if (n > max) { reject(new Error('body too large')); req.destroy(); } else chunks.push(c); });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
function authorized(req) {
  const h = req.headers.authorization || '';
  const want = `Bearer ${opt.token}`;
  return h.length === want.length && crypto.timingSafeEqual(Buffer.from(h), Buffer.from(want));
}
const DOC_RE = /^\/(?:d|doc)\/([^/]+)\/(as-update|update)$/;
const FILE_RE = /^\/f\/([^/]+)\/download-url$/;
const BLOB_RE = /^\/_blob\/([0-9a-f-]{36})\/([0-9a-f]{64})$/;
const blobKey = crypto.randomBytes(32);
const sign = (s) => crypto.createHmac('sha256', blobKey).update(s).digest('hex');
let baseUrl = null;

function splitDocId(s) {
  const m = /^([0-9a-fA-F-]{36})-([0-9a-fA-F-]{36})$/.exec(s);
  return m ? [m[1].toLowerCase(), m[2].toLowerCase()] : [null, null];
}

async function handle(req, res) {
  stats.requests++;
  const u = new URL(req.url, 'http://x');
  const line = `${req.method} ${u.pathname}${u.search}`;
  log(line);
  if (u.pathname.startsWith('/_control/')) return control(req, res, u);

  // count every Relay API request by kind, injected failures included
  if (DOC_RE.test(u.pathname)) { if (u.pathname.endsWith('/as-update')) stats.as_update++; else stats.update_post++; }
  else if (FILE_RE.test(u.pathname)) stats.download_url++;
  else if (BLOB_RE.test(u.pathname)) stats.blob++;
  const rule = takeRule(line);
  if (rule) {
    if (rule.action === 'drop') { req.socket.destroy(); return; }
    if (rule.action === 'hang') return; // never answer; the client must time out
    if (rule.action === 'status') return send(res, rule.status || 500, { error: `injected ${rule.status || 500}` });
    if (rule.action === 'slow') await new Promise((r) => setTimeout(r, rule.delay_ms || 1000));
  }

  if (req.method === 'GET' && u.pathname === '/ready') return send(res, 200, { ok: true });

  let m = DOC_RE.exec(u.pathname);
  if (m) {
    if (!authorized(req)) { stats.unauthorized++; return send(res, 401, { error: 'Unauthorized' }); }
    const [relay, id] = splitDocId(m[1]);
    if (m[2] === 'as-update' && req.method === 'GET') {
      stats.per_doc[id || m[1]] = (stats.per_doc[id || m[1]] || 0) + 1;
      // Relay loads or creates any doc on demand: unknown ids are the empty update 00 00.
      const d = relay === opt.relay ? docs.get(id) : null;
      let bytes = d ? Buffer.from(Y.encodeStateAsUpdate(d)) : Buffer.from([0, 0]);
      if (rule && rule.action === 'wrong-bytes') bytes = Buffer.from([0x01, 0xff, 0xff, 0x7f, 0x00]);
      if (rule && rule.action === 'truncate') {
        res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': bytes.length, 'relay-server-version': VERSION });
        res.write(bytes.subarray(0, bytes.length >> 1));
        setTimeout(() => req.socket.destroy(), 20);
        return;
      }
      return send(res, 200, bytes, 'application/octet-stream');
    }
    if (m[2] === 'update' && req.method === 'POST') {
      if (relay !== opt.relay) return send(res, 403, { error: 'Forbidden' });
      const body = await readBody(req);
      try { Y.applyUpdate(id === opt.folder ? folderDoc : serverDoc(id), body, { user: null }); } catch (e) { return send(res, 400, { error: 'bad update' }); }
      return send(res, 200, '', 'text/plain');
    }
    return send(res, 405, { error: 'Method Not Allowed' });
  }

  m = FILE_RE.exec(u.pathname);
  if (m && req.method === 'GET') {
    if (!authorized(req)) { stats.unauthorized++; return send(res, 401, { error: 'Unauthorized' }); }
    const [relay, id] = splitDocId(m[1]);
    const hash = (u.searchParams.get('hash') || '').toLowerCase();
    if (!/^[0-9a-f]{64}$/.test(hash)) return send(res, 400, { error: 'Invalid hash' });
    if (relay !== opt.relay || !blobs.has(`${id}/${hash}`)) return send(res, 404, { error: 'Not Found' });
    let key = `${id}/${hash}`;
    if (rule && rule.action === 'wrong-bytes') key = [...blobs.keys()].find((k) => k !== key) || key; // another blob's URL
    const [bid, bh] = key.split('/');
    const q = `X-Amz-Expires=3600&X-Amz-Signature=${sign(`${bid}/${bh}`)}`;
    return send(res, 200, { downloadUrl: `${baseUrl}/_blob/${bid}/${bh}?${q}` });
  }

  m = BLOB_RE.exec(u.pathname);
  if (m && req.method === 'GET') {
    // A presigned S3 URL refuses a second auth mechanism (400), so a client
    // that sends its Relay bearer along is caught here.
    if (req.headers.authorization) { stats.blob_with_auth++; return send(res, 400, { error: 'Only one auth mechanism allowed' }); }
    if (u.searchParams.get('X-Amz-Signature') !== sign(`${m[1]}/${m[2]}`)) return send(res, 403, { error: 'SignatureDoesNotMatch' });
    let b = blobs.get(`${m[1]}/${m[2]}`);
    if (!b) return send(res, 404, { error: 'NoSuchKey' });
    if (rule && rule.action === 'wrong-bytes') { b = Buffer.from(b); if (b.length) b[0] ^= 0xff; else b = Buffer.from('x'); }
    if (rule && rule.action === 'truncate') {
      res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': b.length, 'relay-server-version': VERSION });
      res.write(b.subarray(0, b.length >> 1));
      setTimeout(() => req.socket.destroy(), 20);
      return;
    }
    return send(res, 200, b, 'application/octet-stream');
  }
  return send(res, 404, { error: 'Not Found' });
}

async function control(req, res, u) {
  const name = u.pathname.slice('/_control/'.length);
  let body = {};
  if (req.method === 'POST') {
    const raw = await readBody(req);
    if (raw.length) { try { body = JSON.parse(raw.toString('utf8')); } catch (e) { return send(res, 400, { error: 'bad JSON' }); } }
  }
  try {
    switch (name) {
      case 'info': return send(res, 200, info());
      case 'edit': {
        const ops = Array.isArray(body) ? body : body.ops || [body];
        const results = [];
        for (const op of ops) results.push(applyOp(op));
        if (body.flush) await flushWebhooks();
        return send(res, 200, { ok: true, results });
      }
      case 'fail': {
        if (body.clear) rules = [];
        for (const r of body.rules || (body.action ? [body] : [])) {
          rules.push({ re: new RegExp(r.match || '.'), action: r.action || 'status', status: r.status,
            delay_ms: r.delay_ms, count: r.count === undefined ? 1 : r.count, match: r.match });
        }
        return send(res, 200, { ok: true, rules: rules.map((r) => ({ match: r.match, action: r.action, count: r.count, hits: r.hits || 0 })) });
      }
      case 'stats': return send(res, 200, stats);
      case 'stats/reset': Object.assign(stats, newStats()); return send(res, 200, { ok: true });
      case 'flush': await flushWebhooks(); return send(res, 200, { ok: true, sent: stats.webhooks_sent, failed: stats.webhooks_failed });
      case 'config':
        if ('webhook_url' in body) { opt.webhookUrl = body.webhook_url; webhookAgent = null; }
        if ('webhook_token' in body) opt.webhookToken = body.webhook_token;
        if ('token' in body) opt.token = body.token;
        return send(res, 200, { ok: true });
      case 'tree': return send(res, 200, treeInfo());
      case 'doc': {
        const p = u.searchParams.get('path');
        const meta = metaOf(p) || (legacyDocs.has(p) ? { id: legacyDocs.get(p), type: 'markdown' } : null);
        if (!meta) return send(res, 404, { error: 'no such path' });
        if (meta.type === 'canvas') return send(res, 200, { id: meta.id, kind: 'canvas', canvas: canvasData(meta.id), obsidian: obsidianCanvas(canvasData(meta.id)) });
        if (meta.type === 'markdown') return send(res, 200, { id: meta.id, kind: 'markdown', text: textOf(meta.id) });
        return send(res, 200, { id: meta.id, kind: meta.type, meta });
      }
      case 'update': { // raw update bytes of any doc id, as base64 (for decoder tests)
        const id = u.searchParams.get('id');
        const d = docs.get(id);
        return send(res, 200, { id, update_b64: Buffer.from(d ? Y.encodeStateAsUpdate(d) : [0, 0]).toString('base64') });
      }
      case 'export': return send(res, 200, { ok: true, written: exportTree(body.dir) });
      case 'shutdown': send(res, 200, { ok: true }); setTimeout(() => process.exit(0), 10); return;
      default: return send(res, 404, { error: `no control '${name}'` });
    }
  } catch (e) {
    return send(res, 400, { error: e.message });
  }
}

function info() {
  return { ready: true, port: server.address().port, url: baseUrl, relay: opt.relay, folder: opt.folder,
    token: opt.token, docs: docs.size, blobs: blobs.size, entries: filemeta.size, tls: !!opt.tlsCert };
}

// ------------------------------------------------------------ start
const t0 = Date.now();
if (opt.vault) loadVault(opt.vault);
if (opt.synthetic) loadSynthetic(opt.synthetic, opt.syntheticDir);
loading = false;
synctimeBase = Date.now();

const server = opt.tlsCert
  ? https.createServer({ cert: fs.readFileSync(opt.tlsCert), key: fs.readFileSync(opt.tlsKey) }, (q, s) => { handle(q, s).catch((e) => send(s, 500, { error: e.message })); })
  : http.createServer((q, s) => { handle(q, s).catch((e) => send(s, 500, { error: e.message })); });
server.keepAliveTimeout = 30000;
server.headersTimeout = 35000;
server.on('connection', () => { stats.connections++; });
server.on('secureConnection', () => {});
server.listen(opt.port, opt.host, () => {
  const scheme = opt.tlsCert ? 'https' : 'http';
  const host = opt.host.includes(':') ? `[${opt.host}]` : opt.host;
  baseUrl = opt.publicUrl || `${scheme}://${host}:${server.address().port}`;
  const i = info();
  i.load_ms = Date.now() - t0;
  process.stdout.write(JSON.stringify(i) + '\n');
});
process.on('SIGTERM', () => process.exit(0));
process.on('SIGINT', () => process.exit(0));

// vault-snap.js DIR DATA_DIR RELAY FOLDER [REF]: print the snapshot records
// rgs-fetch would produce for a vault directory (a full folder snapshot
// and one doc snapshot per note and canvas, file bytes as content), and put
// every other file into DATA_DIR/cache/blobs/<sha256>.  Ids are derived
// from the path (stable across runs).  Node's crypto is the hash truth.
const fs = require("fs"), path = require("path"), crypto = require("crypto");
const [dir, dd, relay, folder, ref0] = process.argv.slice(2);
const ref = ref0 || `rc:${relay}:${folder}`;
const sha = (b) => crypto.createHash("sha256").update(b).digest("hex");
const id = (p) => { const h = sha("id:" + p); return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`; };
const entries = {}, docs = [];
fs.mkdirSync(path.join(dd, "cache", "blobs"), { recursive: true });
(function walk(rel) {
  for (const name of fs.readdirSync(path.join(dir, rel)).sort()) {
    const r = rel ? rel + "/" + name : name, v = "/" + r, full = path.join(dir, r);
    const st = fs.lstatSync(full);
    if (st.isDirectory()) { entries[v] = { version: 0, id: id(v), type: "folder" }; walk(r); continue; }
    const bytes = fs.readFileSync(full);
    if (name.endsWith(".md") || name.endsWith(".canvas")) {
      const kind = name.endsWith(".md") ? "markdown" : "canvas";
      entries[v] = { version: 0, id: id(v), type: kind };
      const content = bytes.toString("utf8");
      docs.push({ v: 1, type: "doc", ref, relay, folder, doc: id(v), kind, never_written: false, content, sha256: sha(Buffer.from(content, "utf8")) });
    } else {
      const h = sha(bytes);
      fs.writeFileSync(path.join(dd, "cache", "blobs", h), bytes);
      entries[v] = { version: 0, id: id(v), type: "image", mimetype: "application/octet-stream", synctime: 1700000000000, hash: h };
    }
  }
})("");
console.log(JSON.stringify({ v: 1, type: "folder", ref, relay, folder, never_written: false, full: true, entries }));
for (const d of docs) console.log(JSON.stringify(d));

// gen-big.js DATA_DIR RELAY FOLDER STAGE: the snapshot records of a synthetic
// folder for the crash tests.  Stage 1: 300 notes in 10 directories and 40
// attachments.  Stage 2: 100 notes edited, directory d3 renamed to d3b (its
// notes move), 20 notes deleted, 30 new, 10 attachments replaced.  Stage 3:
// no folder snapshot, only doc records: all 310 notes of stage 2 edited
// again (a batch of content changes only, which rgs-apply keeps in
// DATA_DIR/state/<relay>/pending until it folds them in).  Blobs go
// to DATA_DIR/cache/blobs.  Prints the sha256 of every content to fd 3 when
// it is open (the set of bytes a file may legitimately hold).
const fs = require("fs"), path = require("path"), crypto = require("crypto");
const [dd, relay, folder, stage] = process.argv.slice(2);
const sha = (b) => crypto.createHash("sha256").update(b).digest("hex");
const uid = (n) => "bbbbbbbb-0000-4000-8000-" + String(n).padStart(12, "0");
const ref = `rc:${relay}:${folder}`;
const entries = {}, recs = [];
let hashes = null;
try { hashes = fs.createWriteStream(null, { fd: 3 }); } catch (e) { hashes = null; }
fs.mkdirSync(path.join(dd, "cache", "blobs"), { recursive: true });
const s3 = stage === "3", s2 = stage === "2" || s3;
for (let d = 0; d < 10; d++) {
  const dn = s2 && d === 3 ? "d3b" : "d" + d;
  entries["/" + dn] = { version: 0, id: uid(9000 + d), type: "folder" };
}
for (let i = 0; i < 330; i++) {
  if (i >= 300 && !s2) continue;            // new in stage 2
  if (s2 && i >= 200 && i < 220) continue;  // deleted in stage 2
  const d = i % 10, dn = s2 && d === 3 ? "d3b" : "d" + d;
  const vp = `/${dn}/note ${i} ä.md`;
  const edited = s2 && i < 100;
  const content = `# Note ${i}\n` + (edited ? "edited\n" : "") + (s3 ? "edited again\n" : "") +
    "lorem ipsum ".repeat(40 + (i % 7)) + "\n";
  entries[vp] = { version: 0, id: uid(i), type: "markdown" };
  recs.push({ v: 1, type: "doc", ref, relay, folder, doc: uid(i), kind: "markdown", never_written: false, content, sha256: sha(Buffer.from(content)) });
}
for (let j = 0; j < 40; j++) {
  const bytes = Buffer.alloc(3000 + j * 10, (s2 && j < 10 ? "B" : "A") + j);
  const h = sha(bytes);
  fs.writeFileSync(path.join(dd, "cache", "blobs", h), bytes);
  entries[`/att/img${j}.png`] = { version: 0, id: uid(5000 + j), type: "image", mimetype: "image/png", synctime: 1, hash: h };
}
entries["/att"] = { version: 0, id: uid(9999), type: "folder" };
if (!s3) console.log(JSON.stringify({ v: 1, type: "folder", ref, relay, folder, never_written: false, full: true, entries }));
for (const r of recs) console.log(JSON.stringify(r));

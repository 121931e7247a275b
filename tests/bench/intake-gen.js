// node intake-gen.js SECRET COUNT OUT_FILE
// COUNT webhook requests, each with its own event and Svix message id,
// signed now by the npm svix package: one per line, "id<TAB>ts<TAB>sig<TAB>body".
const fs = require("fs");
const { Webhook } = require("svix");
const [secret, count, out] = process.argv.slice(2);
const wh = new Webhook(secret);
const now = new Date();
const ts = Math.floor(now.getTime() / 1000);
const relay = "0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
const lines = [];
for (let i = 0; i < Number(count); i++) {
  const res = `${(i % 0xffffffff).toString(16).padStart(8, "0")}-2222-3333-4444-555555555555`;
  const body = JSON.stringify({ eventType: "document.updated", eventId: `evt_bench${i}`,
    payload: { doc_id: `${relay}-${res}`, metadata: {}, timestamp: now.toISOString(), user: "u1" } });
  const id = `msg_bench_${process.pid}_${i}`;
  lines.push(`${id}\t${ts}\t${wh.sign(id, now, body)}\t${body}`);
}
fs.writeFileSync(out, lines.join("\n") + "\n");

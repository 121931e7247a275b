// node crash-client.js PORT SECRET ACKED_FILE CONNECTIONS
// Posts webhooks with unique event ids over CONNECTIONS keep-alive
// connections until the server dies; appends each event id whose answer was
// "200 {"status":"received"}" to ACKED_FILE (synchronously, before the next
// request on that connection), so the file lists exactly what was acknowledged.
const http = require("http");
const fs = require("fs");
const [port, secret, ackedFile, conns] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true, maxSockets: Number(conns) });
const fd = fs.openSync(ackedFile, "a");
const DOC = "0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b-11111111-2222-3333-4444-555555555555";
let n = 0, dead = 0;
function one(worker) {
  const id = `evt_w${worker}n${n++}`;
  const body = JSON.stringify({ eventType: "document.updated", eventId: id, payload: { doc_id: DOC, user: null } });
  const req = http.request({ host: "127.0.0.1", port, path: "/webhooks", method: "POST", agent,
    headers: { "Content-Type": "application/json", Authorization: `Bearer ${secret}`, "Content-Length": Buffer.byteLength(body) } },
    (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        if (res.statusCode === 200 && Buffer.concat(chunks).toString() === '{"status":"received"}')
          fs.writeSync(fd, id + "\n");
        one(worker);
      });
      res.on("error", () => stop());
    });
  req.on("error", () => stop());
  req.end(body);
}
function stop() { if (++dead === Number(conns)) process.exit(0); }
for (let w = 0; w < Number(conns); w++) one(w);
setTimeout(() => process.exit(0), 30000);

// node raw-send.js PORT FILE...
// Sends each file's bytes on its own TCP connection to 127.0.0.1:PORT, then
// half-closes, reads until the server closes (or 10 s), and prints
// "<file basename> <status of the first response or 000>".
const net = require("net");
const fs = require("fs");
const path = require("path");
const [port, ...files] = process.argv.slice(2);
function one(file) {
  return new Promise((resolve) => {
    const data = fs.readFileSync(file);
    const chunks = [];
    const s = net.connect(Number(port), "127.0.0.1", () => { s.end(data); });
    const done = () => {
      const text = Buffer.concat(chunks).toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      resolve(`${path.basename(file)} ${m ? m[1] : "000"}`);
    };
    s.setTimeout(10000, () => s.destroy());
    s.on("data", (d) => chunks.push(d));
    s.on("error", () => {});
    s.on("close", done);
  });
}
(async () => { for (const f of files) console.log(await one(f)); })();

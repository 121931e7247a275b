// node raw-observe.js PORT FILE...
// Sends each file's bytes on its own TCP connection to 127.0.0.1:PORT, all
// connections at once.  A file whose name ends in ".hold" is sent without
// half-closing (a slow client: the server's read deadline must answer);
// the others are followed by a half-close.  Reads until the server closes
// (or 20 s), writes the response body to FILE.resp and prints
// "<file basename> <status or 000> <content type or ->" per file, in order.
const net = require("net");
const fs = require("fs");
const path = require("path");
const [port, ...files] = process.argv.slice(2);
function one(file) {
  return new Promise((resolve) => {
    const data = fs.readFileSync(file);
    const chunks = [];
    const s = net.connect(Number(port), "127.0.0.1", () => {
      if (file.endsWith(".hold")) s.write(data);
      else s.end(data);
    });
    const done = () => {
      const all = Buffer.concat(chunks);
      const text = all.toString("latin1");
      const m = /^HTTP\/1\.1 (\d{3}) /.exec(text);
      const head = text.indexOf("\r\n\r\n");
      const ct = head < 0 ? null : /\r\ncontent-type: *([^\r;]+)/i.exec(text.slice(0, head));
      fs.writeFileSync(file + ".resp", head < 0 ? Buffer.alloc(0) : all.subarray(head + 4));
      resolve(`${path.basename(file)} ${m ? m[1] : "000"} ${ct ? ct[1].trim() : "-"}`);
    };
    s.setTimeout(20000, () => s.destroy());
    s.on("data", (d) => chunks.push(d));
    s.on("error", () => {});
    s.on("close", done);
  });
}
(async () => { for (const r of await Promise.all(files.map(one))) console.log(r); })();

// node hog-client.js PORT CONNECTIONS INTERVAL_MS SECONDS [LOCAL_ADDRESS]
// The client of the security review: CONNECTIONS keep-alive connections to
// 127.0.0.1:PORT, each sending "GET /health" every INTERVAL_MS, and opening
// a new connection whenever the server closes one, for SECONDS.  Prints
// {"opened":N,"closed":N,"answered":N} at the end.
const net = require("net");
const [port, conns, interval, secs, local] = process.argv.slice(2);
let opened = 0, closed = 0, answered = 0, stop = false;
function one() {
  const s = net.connect({ port: Number(port), host: "127.0.0.1", localAddress: local || undefined });
  opened++;
  let timer = null;
  const send = () => s.write("GET /health HTTP/1.1\r\nHost: hog\r\n\r\n");
  s.on("connect", () => { send(); timer = setInterval(send, Number(interval)); });
  s.on("data", (d) => { answered += (d.toString("latin1").match(/^HTTP\/1\.1 200 /gm) || []).length; });
  s.on("error", () => {});
  s.on("close", () => {
    if (timer) clearInterval(timer);
    closed++;
    if (!stop) setTimeout(one, 10);
  });
}
for (let i = 0; i < Number(conns); i++) one();
setTimeout(() => {
  stop = true;
  console.log(JSON.stringify({ opened, closed, answered }));
  process.exit(0);
}, Number(secs) * 1000);

// node make-bad-requests.js DIR SECRET
// Writes the corpus of malformed and hostile requests, one file each,
// named "<expected status>-<what>".
const fs = require("fs");
const [dir, secret] = process.argv.slice(2);
const DOC = "0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b-11111111-2222-3333-4444-555555555555";
const auth = `Authorization: Bearer ${secret}\r\n`;
const post = (body, extra = "") => {
  const b = Buffer.isBuffer(body) ? body : Buffer.from(body);
  return Buffer.concat([Buffer.from(`POST /webhooks HTTP/1.1\r\nHost: t\r\n${auth}${extra}Content-Length: ${b.length}\r\n\r\n`), b]);
};
const env = (doc) => JSON.stringify({ payload: { doc_id: doc } });
const cases = {
  "200-baseline": post(env(DOC)),
  // RFC 9110 §5.5: trailing whitespace is not part of a field value
  "200-trailing-whitespace-after-the-secret": post(env(DOC), "").toString()
    .replace(auth, `Authorization: Bearer ${secret} \t \r\n`),
  // RFC 9112 §2.2 allows a server to accept bare LF; refused (request smuggling behind a proxy)
  "400-bare-LF-line-ends": "GET /health HTTP/1.1\nHost: t\n\n",
  "400-bare-LF-in-one-field-line": post(env(DOC)).toString().replace(auth, auth.replace("\r\n", "\n")),
  "400-CR-without-LF": "GET /health HTTP/1.1\r\nHost: t\rX: y\r\n\r\n",
  // RFC 9112 §5.2: obsolete line folding is refused with 400
  "400-obs-fold-in-Authorization": post(env(DOC)).toString()
    .replace(auth, `Authorization: Bearer\r\n ${secret}\r\n`),
  "400-obs-fold-with-tab": "GET /health HTTP/1.1\r\nHost: t\r\nX-A: a\r\n\tb\r\n\r\n",
  "400-whitespace-before-first-field": "GET /health HTTP/1.1\r\n Host: t\r\n\r\n",
  "400-chunk-data-without-CRLF": `POST /webhooks HTTP/1.1\r\nHost: t\r\n${auth}Transfer-Encoding: chunked\r\n\r\n2\r\n{}XY0\r\n\r\n`,
  "400-truncated-request-line": "GET /heal",
  "400-truncated-headers": "POST /webhooks HTTP/1.1\r\nHost: t\r\nContent-Le",
  "400-truncated-body": `POST /webhooks HTTP/1.1\r\nHost: t\r\n${auth}Content-Length: 100\r\n\r\n{"payload":`,
  "431-header-20000-bytes": `GET /health HTTP/1.1\r\nHost: t\r\nX-Big: ${"a".repeat(20000)}\r\n\r\n`,
  "431-150-header-fields": `GET /health HTTP/1.1\r\nHost: t\r\n${Array.from({ length: 150 }, (_, i) => `X-${i}: ${i}\r\n`).join("")}\r\n`,
  "414-target-10000-bytes": `GET /${"a".repeat(10000)} HTTP/1.1\r\nHost: t\r\n\r\n`,
  "400-content-length-letters": "POST /webhooks HTTP/1.1\r\nHost: t\r\nContent-Length: abc\r\n\r\n",
  "400-content-length-negative": "POST /webhooks HTTP/1.1\r\nHost: t\r\nContent-Length: -5\r\n\r\n",
  "400-content-length-twice": "POST /webhooks HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
  "400-content-length-and-chunked": "POST /webhooks HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
  "413-content-length-2MiB": "POST /webhooks HTTP/1.1\r\nHost: t\r\nContent-Length: 2097152\r\n\r\n",
  "413-chunked-over-1MiB": Buffer.concat([Buffer.from("POST /webhooks HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"),
    ...Array.from({ length: 20 }, () => Buffer.from(`10000\r\n${"x".repeat(65536)}\r\n`)), Buffer.from("0\r\n\r\n")]),
  "400-bad-chunk-size": "POST /webhooks HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
  "501-unknown-transfer-coding": "POST /webhooks HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: gzip\r\n\r\n",
  "417-unknown-expectation": "POST /webhooks HTTP/1.1\r\nHost: t\r\nExpect: tea\r\nContent-Length: 0\r\n\r\n",
  "400-NUL-in-target": "GET /hea\0lth HTTP/1.1\r\nHost: t\r\n\r\n",
  "400-NUL-in-header": "GET /health HTTP/1.1\r\nHost: t\r\nX-A: a\0b\r\n\r\n",
  "400-NUL-in-body": post(Buffer.from(`{"payload":{"doc_id":"${DOC}"}}\0`)),
  "400-invalid-UTF-8-body": post(Buffer.concat([Buffer.from('{"payload":{"doc_id":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}}')])),
  "400-overlong-UTF-8": post(Buffer.concat([Buffer.from('{"payload":{"doc_id":"'), Buffer.from([0xc0, 0xaf]), Buffer.from('"}}')])),
  "400-invalid-JSON": post('{"payload":{"doc_id":'),
  "400-JSON-duplicate-keys": post(`{"payload":{"doc_id":"${DOC}","doc_id":"${DOC}"}}`),
  "400-deep-nesting": post("[".repeat(100000)),
  "400-deep-nesting-in-metadata": post(`{"payload":{"doc_id":"${DOC}","metadata":${"[".repeat(200)}${"]".repeat(200)}}}`),
  "400-not-an-object": post("[1,2,3]"),
  "400-no-payload": post("{}"),
  "400-doc-id-number": post('{"payload":{"doc_id":123}}'),
  "400-doc-id-one-uuid": post(env("0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b")),
  "400-doc-id-non-hex": post(env("0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5z-11111111-2222-3333-4444-555555555555")),
  "400-doc-id-four-uuids": post(env(`${DOC}-${DOC}`)),
  "400-doc-id-traversal-relay": post(env("../../../../../../../tmp/pwned-11111111-2222-3333-4444-555555555555")),
  "400-doc-id-traversal-resource": post(env("0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b-../../../../../../tmp/pwned/x")),
  "400-doc-id-slashes-right-length": post(env("0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b-../../../../../../../../../../tmp/x")),
  "400-doc-id-NUL": post('{"payload":{"doc_id":"0f8c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b-11111111-2222-3333-4444-55555555555\\u0000"}}'),
  "400-missing-Host": "GET /health HTTP/1.1\r\n\r\n",
  "400-space-in-field-name": "GET /health HTTP/1.1\r\nHost: t\r\nBad Name: x\r\n\r\n",
  "400-unknown-method": "BREW /health HTTP/1.1\r\nHost: t\r\n\r\n",
  "400-binary-garbage": Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 73 + 11) & 255)),
  "400-HTTP-2-preface": "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
  "505-HTTP-3": "GET /health HTTP/3.0\r\nHost: t\r\n\r\n",
  "404-dot-dot-path": "GET /health/../webhooks HTTP/1.1\r\nHost: t\r\n\r\n",
  "404-docs-traversal": "GET /docs/../../../../etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n",
  "404-docs-asset-traversal": "GET /docs/swagger-ui.css/../../../../../etc/passwd HTTP/1.1\r\nHost: t\r\n\r\n",
  "404-encoded-path": "GET /%68ealth HTTP/1.1\r\nHost: t\r\n\r\n",
  "405-PUT-webhooks": post(env(DOC)).toString().replace("POST", "PUT"),
  "401-no-auth": `POST /webhooks HTTP/1.1\r\nHost: t\r\nContent-Length: 2\r\n\r\n{}`,
};
fs.mkdirSync(dir, { recursive: true });
for (const [name, data] of Object.entries(cases)) fs.writeFileSync(`${dir}/${name}`, data);

// node svix-sign.js SECRET MSG_ID UNIX_SECONDS BODY_FILE
// Prints the signature header value ("v1,<base64>") that the npm svix
// package (Webhook.sign) computes: the independent truth for rgs-verify.
const fs = require("fs");
const { Webhook } = require("svix");
const [secret, id, ts, file] = process.argv.slice(2);
const body = fs.readFileSync(file, "utf8");
process.stdout.write(new Webhook(secret).sign(id, new Date(Number(ts) * 1000), body) + "\n");

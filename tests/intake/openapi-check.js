// node openapi-check.js OPENAPI_FILE OBSERVED_FILE
// 1. Validates the file as OpenAPI 3.1 with @seriousme/openapi-schema-validator.
// 2. OBSERVED_FILE has lines "METHOD PATH STATUS BODYFILE" recorded from the
//    running rgs-verify; each status must be documented for that operation,
//    and a JSON body must carry the required keys of the documented schema.
// Prints one TAP-ish line per check: "ok|not ok <text>".
const fs = require("fs");
const YAML = require("yaml");
const { Validator } = require("@seriousme/openapi-schema-validator");
const [specFile, observed] = process.argv.slice(2);
(async () => {
  const v = new Validator();
  const res = await v.validate(specFile);
  console.log(`${res.valid ? "ok" : "not ok"} openapi.yaml is valid OpenAPI ${v.version}${res.valid ? "" : ": " + JSON.stringify(res.errors).slice(0, 300)}`);
  const spec = YAML.parse(fs.readFileSync(specFile, "utf8"));
  const deref = (o) => {
    while (o && o.$ref) o = o.$ref.slice(2).split("/").reduce((a, k) => a[k], spec);
    return o;
  };
  for (const line of fs.readFileSync(observed, "utf8").split("\n").filter(Boolean)) {
    const [method, p, status, bodyFile] = line.split(" ");
    // the path item: exact, else a templated one ("/docs/{asset}")
    let item = spec.paths[p];
    if (!item)
      for (const [tp, it] of Object.entries(spec.paths)) {
        const re = new RegExp("^" + tp.replace(/[.]/g, "\\.").replace(/\{[^}]+\}/g, "[^/]+") + "$");
        if (re.test(p)) item = it;
      }
    // 405 belongs to the path, not to the method that was refused
    const ops = !item ? [] : status === "405" ? Object.values(item) : [item[method.toLowerCase()]];
    const resp = ops.map((o) => o && o.responses && deref(o.responses[status])).find(Boolean);
    if (!resp) { console.log(`not ok ${method} ${p} ${status} is documented`); continue; }
    console.log(`ok ${method} ${p} ${status} is documented`);
    const media = resp.content && resp.content["application/json"];
    if (!media) continue;
    const schema = deref(media.schema);
    let body;
    try { body = JSON.parse(fs.readFileSync(bodyFile, "utf8")); } catch { body = undefined; }
    const missing = (schema.required || []).filter((k) => !body || !(k in body));
    console.log(`${missing.length ? "not ok" : "ok"} ${method} ${p} ${status} body has the schema's required keys${missing.length ? " (missing " + missing + ")" : ""}`);
  }
})();

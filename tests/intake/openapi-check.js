// node openapi-check.js OPENAPI_FILE OBSERVED_FILE
// 1. Validates the file as OpenAPI 3.1 with @seriousme/openapi-schema-validator.
// 2. OBSERVED_FILE has lines "METHOD PATH STATUS BODYFILE [CONTENT_TYPE]"
//    recorded from the running rgs-verify; for each: the status must be
//    documented for that operation (405: for the path), the content type
//    (when given) must be one the response documents, and a JSON body must
//    be valid against the documented schema (the JSON Schema keywords
//    openapi.yaml uses; an unknown validation keyword is an error, so a
//    schema this checker cannot judge never passes).
// Prints one TAP-ish line per check: "ok|not ok <text>".
const fs = require("fs");
const YAML = require("yaml");
const { Validator } = require("@seriousme/openapi-schema-validator");
const [specFile, observed] = process.argv.slice(2);
const ANNOTATIONS = new Set(["description", "examples", "example", "summary", "title", "contentMediaType", "format", "deprecated"]);

(async () => {
  const v = new Validator();
  const res = await v.validate(specFile);
  console.log(`${res.valid ? "ok" : "not ok"} openapi.yaml is valid OpenAPI ${v.version}${res.valid ? "" : ": " + JSON.stringify(res.errors).slice(0, 300)}`);
  const spec = YAML.parse(fs.readFileSync(specFile, "utf8"));
  const deref = (o) => {
    while (o && o.$ref) o = o.$ref.slice(2).split("/").reduce((a, k) => a && a[k], spec);
    return o;
  };
  const typeOf = (x) => (x === null ? "null" : Array.isArray(x) ? "array" : Number.isInteger(x) ? "integer" : typeof x);
  // errors of value x against schema s at "where" (empty list: valid)
  const check = (s, x, where) => {
    s = deref(s);
    const errs = [];
    for (const [k, val] of Object.entries(s)) {
      if (ANNOTATIONS.has(k)) continue;
      switch (k) {
        case "type": {
          const ts = [].concat(val), t = typeOf(x);
          if (!ts.some((w) => w === t || (w === "number" && t === "integer"))) errs.push(`${where}: ${t}, not ${ts}`);
          break;
        }
        case "required":
          if (typeOf(x) === "object") for (const r of val) if (!(r in x)) errs.push(`${where}: no ${r}`);
          break;
        case "properties":
          if (typeOf(x) === "object")
            for (const [p, ps] of Object.entries(val)) if (p in x) errs.push(...check(ps, x[p], `${where}.${p}`));
          break;
        case "additionalProperties":
          if (typeOf(x) === "object")
            for (const p of Object.keys(x))
              if (!(s.properties && p in s.properties)) {
                if (val === false) errs.push(`${where}: unexpected ${p}`);
                else if (typeof val === "object") errs.push(...check(val, x[p], `${where}.${p}`));
              }
          break;
        case "items":
          if (Array.isArray(x)) x.forEach((e, i) => errs.push(...check(val, e, `${where}[${i}]`)));
          break;
        case "const":
          if (JSON.stringify(x) !== JSON.stringify(val)) errs.push(`${where}: not ${JSON.stringify(val)}`);
          break;
        case "enum":
          if (!val.some((e) => JSON.stringify(e) === JSON.stringify(x))) errs.push(`${where}: not one of ${val}`);
          break;
        case "minimum":
          if (typeof x === "number" && x < val) errs.push(`${where}: below ${val}`);
          break;
        case "pattern":
          if (typeof x === "string" && !new RegExp(val, "u").test(x)) errs.push(`${where}: does not match ${val}`);
          break;
        default:
          errs.push(`${where}: schema keyword ${k} not understood by openapi-check.js`);
      }
    }
    return errs;
  };
  for (const line of fs.readFileSync(observed, "utf8").split("\n").filter(Boolean)) {
    const [method, p, status, bodyFile, ctype] = line.split(" ");
    const what = `${method} ${p.length > 40 ? p.slice(0, 37) + "..." : p} ${status}`;
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
    if (!resp) { console.log(`not ok ${what} is documented`); continue; }
    console.log(`ok ${what} is documented`);
    const content = resp.content || {};
    if (ctype && ctype !== "-") {
      const known = Object.keys(content).includes(ctype);
      console.log(`${known ? "ok" : "not ok"} ${what} content type ${ctype} is documented`);
      if (!known) continue;
    }
    const media = content["application/json"];
    if (!media || (ctype && ctype !== "application/json")) continue;
    let body, errs;
    try { body = JSON.parse(fs.readFileSync(bodyFile, "utf8")); } catch { body = undefined; }
    errs = body === undefined ? ["not JSON"] : check(media.schema, body, "body");
    console.log(`${errs.length ? "not ok" : "ok"} ${what} body matches the schema${errs.length ? " (" + errs.join("; ").slice(0, 300) + ")" : ""}`);
  }
})();

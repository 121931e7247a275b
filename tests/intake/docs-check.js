// node docs-check.js URL SCREENSHOT OPENAPI_FILE
// Opens URL (/docs) in headless Chromium (Debian's /usr/bin/chromium driven
// by playwright-core), waits until Swagger UI has rendered the operations,
// expands the first one, takes a screenshot, and prints a JSON report:
// {operations: [...from openapi.yaml], shown: [...rendered], offsite: [...],
//  errors: [...console errors]}.
// CDN_DIR=DIR: requests to https://cdn.jsdelivr.net/npm/swagger-ui-dist@V/F
// are answered from DIR/F (as jsDelivr would: the npm package's bytes, with
// Access-Control-Allow-Origin: *) and listed in `cdn`, not in `offsite`;
// OPBLOCK_TIMEOUT_MS: how long to wait for the operations (30000).
// CDN_TAMPER=1 changes one byte of swagger-ui-bundle.js on the way, so the
// browser's Subresource Integrity check must refuse it.  Every other
// off-site request is aborted and listed in `offsite`.
const fs = require("fs");
const os = require("os");
const path = require("path");
const YAML = require("yaml");
const { chromium } = require("playwright-core");

const [url, shot, specFile] = process.argv.slice(2);
const spec = YAML.parse(fs.readFileSync(specFile, "utf8"));
const operations = [];
for (const [p, item] of Object.entries(spec.paths))
  for (const m of ["get", "put", "post", "delete", "patch", "head", "options"])
    if (item[m]) operations.push(`${m.toUpperCase()} ${p}`);

(async () => {
  const profile = fs.mkdtempSync(path.join(process.env.RGS_TMP || os.tmpdir(), "chromium-"));
  // a fresh profile directory (playwright passes it as --user-data-dir)
  const browser = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1280, height: 1600 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
  const report = { operations, shown: [], offsite: [], cdn: [], errors: [] };
  try {
    const page = await browser.newPage();
    const origin = new URL(url).origin;
    const cdnDir = process.env.CDN_DIR;
    const cdnRe = /^https:\/\/cdn\.jsdelivr\.net\/npm\/swagger-ui-dist@[0-9.]+\/([a-z0-9.-]+)$/;
    page.on("request", (r) => {
      const u = r.url();
      if (u.startsWith(origin) || u.startsWith("data:")) return;
      if (cdnDir && cdnRe.test(u)) report.cdn.push(u); else report.offsite.push(u);
    });
    if (cdnDir) {
      await page.route(/^https?:\/\//, (route) => {
        const u = route.request().url();
        if (u.startsWith(origin)) return route.continue();
        const m = cdnRe.exec(u);
        if (!m || !fs.existsSync(path.join(cdnDir, m[1]))) return route.abort();
        let body = fs.readFileSync(path.join(cdnDir, m[1]));
        if (process.env.CDN_TAMPER === "1" && m[1] === "swagger-ui-bundle.js") {
          body = Buffer.from(body);
          body[body.length - 2] ^= 0x20;
        }
        return route.fulfill({ status: 200, body, headers: {
          "Access-Control-Allow-Origin": "*",
          "Content-Type": m[1].endsWith(".css") ? "text/css; charset=utf-8" : "application/javascript; charset=utf-8" } });
      });
    }
    page.on("console", (m) => { if (m.type() === "error") report.errors.push(m.text()); });
    page.on("pageerror", (e) => report.errors.push(String(e)));
    await page.goto(url, { waitUntil: "load", timeout: 30000 });
    await page.waitForSelector(".opblock", { timeout: parseInt(process.env.OPBLOCK_TIMEOUT_MS || "30000", 10) });
    report.shown = await page.$$eval(".opblock-summary", (els) => els.map((e) => {
      const m = e.querySelector(".opblock-summary-method");
      const p = e.querySelector(".opblock-summary-path");
      return `${m ? m.textContent.trim() : "?"} ${p ? (p.getAttribute("data-path") || p.textContent).trim().replace(/\u200b/g, "") : "?"}`;
    }));
    report.title = await page.$eval(".info .title", (e) => e.textContent).catch(() => "");
    await page.click(".opblock-summary >> nth=0");
    await page.waitForSelector(".opblock-body", { timeout: 10000 });
    await page.screenshot({ path: shot, fullPage: true });
  } catch (e) {
    report.errors.push(String(e));
  } finally {
    await browser.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  console.log(JSON.stringify(report));
})();

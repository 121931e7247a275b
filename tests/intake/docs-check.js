// node docs-check.js URL SCREENSHOT OPENAPI_FILE
// Opens URL (/docs) in headless Chromium (Debian's /usr/bin/chromium driven
// by playwright-core), waits until Swagger UI has rendered the operations,
// expands the first one, takes a screenshot, and prints a JSON report:
// {operations: [...from openapi.yaml], shown: [...rendered], offsite: [...],
//  errors: [...console errors]}.
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
  const report = { operations, shown: [], offsite: [], errors: [] };
  try {
    const page = await browser.newPage();
    const origin = new URL(url).origin;
    page.on("request", (r) => { if (!r.url().startsWith(origin) && !r.url().startsWith("data:")) report.offsite.push(r.url()); });
    page.on("console", (m) => { if (m.type() === "error") report.errors.push(m.text()); });
    page.on("pageerror", (e) => report.errors.push(String(e)));
    await page.goto(url, { waitUntil: "load", timeout: 30000 });
    await page.waitForSelector(".opblock", { timeout: 30000 });
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

// The field's validators on a built archive.
//
//   node validate.mjs <public-dir> <issue-path> <publication-path>
//
// html-validate: the archive pages with its recommended rules, the email renditions
// (`*/email.html`) with htmlvalidate-email.json: what email needs (inline styles, presentational
// table attributes, a `main` role on a div since clients drop `<main>`) and nothing else. axe-core in headless Chromium: the archive
// index, a publication index, an issue page and its email, each in light and dark
// (prefers-color-scheme emulated), with no serious or critical violation. Requests for the
// site's absolute URLs are answered from <public-dir>, so nothing leaves the machine.
//
// The Rust test `validators::archive_and_email_pass_html_validate_and_axe` (tests/cli/validators.rs)
// builds the example project and runs this.

import { readFileSync, readdirSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { join, relative } from "node:path";
import { HtmlValidate, StaticConfigLoader } from "html-validate";
import { chromium } from "playwright-core";

const [publicDir, issuePath, publicationPath, baseUrl = "https://news.example.org/"] = process.argv.slice(2);
const require = createRequire(import.meta.url);
let failures = 0;

function walk(dir) {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

async function htmlValidate() {
  // Table cells keep their Markdown alignment as `style="text-align:…"`.
  const pages = new HtmlValidate(
    new StaticConfigLoader({ extends: ["html-validate:recommended"], rules: { "no-inline-style": "off" } }),
  );
  const email = new HtmlValidate(
    new StaticConfigLoader(JSON.parse(readFileSync(new URL("./htmlvalidate-email.json", import.meta.url)))),
  );
  const files = walk(publicDir).filter((f) => f.endsWith(".html"));
  for (const file of files) {
    const validator = file.endsWith("email.html") ? email : pages;
    const report = await validator.validateFile(file);
    const shown = relative(publicDir, file);
    for (const result of report.results) {
      for (const m of result.messages) {
        failures++;
        console.log(`html-validate: ${shown}:${m.line}:${m.column}: ${m.ruleId}: ${m.message}`);
      }
    }
  }
  console.log(`html-validate: ${files.length} files checked`);
}

async function axe() {
  const source = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
  const pages = ["", publicationPath, issuePath, `${issuePath}email.html`];
  try {
    for (const colorScheme of ["light", "dark"]) {
      const context = await browser.newContext({ colorScheme, viewport: { width: 1280, height: 900 } });
      await context.route("**/*", (route) => {
        const url = route.request().url();
        if (!url.startsWith(baseUrl)) return route.fulfill({ status: 404, body: "" });
        let path = join(publicDir, decodeURIComponent(url.slice(baseUrl.length).split(/[?#]/)[0]));
        if (path.endsWith("/") || statSync(path, { throwIfNoEntry: false })?.isDirectory()) path = join(path, "index.html");
        return route.fulfill({ path });
      });
      const page = await context.newPage();
      for (const path of pages) {
        await page.goto(baseUrl + path);
        await page.addScriptTag({ content: source });
        const result = await page.evaluate(() => window.axe.run(document, { resultTypes: ["violations"] }));
        const bad = result.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
        const nodes = bad.reduce((n, v) => n + v.nodes.length, 0);
        console.log(`axe ${colorScheme} /${path}: ${nodes} serious or critical (${result.violations.length} rules violated in all)`);
        for (const v of bad) {
          for (const node of v.nodes) {
            failures++;
            console.log(`  ${v.impact} ${v.id}: ${node.target.join(" ")}: ${node.failureSummary.replace(/\s+/g, " ")}`);
          }
        }
      }
      await context.close();
    }
  } finally {
    await browser.close();
  }
}

await htmlValidate();
await axe();
console.log(failures === 0 ? "ok: no failures" : `FAILED: ${failures} failures`);
process.exit(failures === 0 ? 0 : 1);

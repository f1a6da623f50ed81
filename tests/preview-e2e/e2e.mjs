// Drives Debian's headless Chromium against a running `letterpress preview`.
//
//   node e2e.mjs test <issue-page-url> <markdown-file>
//       Opens the issue page, checks the title and a table cell inside the email iframe,
//       switches to mobile width, edits the Markdown file and waits for the new text without
//       reloading, then breaks the front matter and waits for the error overlay, then fixes it.
//   node e2e.mjs screenshots <issue-page-url> <desktop.png> <mobile.png>
//       Saves the issue page at both email widths.
//
// The Rust test `preview::in_chromium` (tests/cli/preview.rs) starts the server and runs this.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const TIMEOUT = 10_000;
const [mode, url, ...rest] = process.argv.slice(2);

function check(condition, message) {
  if (!condition) throw new Error(message);
  console.log(`ok: ${message}`);
}

async function launch() {
  const profile = mkdtempSync(join(tmpdir(), "letterpress-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    viewport: { width: 1280, height: 1000 },
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--no-first-run",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
    ],
  });
  return { context, close: async () => { await context.close(); rmSync(profile, { recursive: true, force: true }); } };
}

async function frameWidth(page) {
  return page.locator("#email").evaluate((frame) => frame.contentWindow.innerWidth);
}

async function test(page, file) {
  const original = readFileSync(file, "utf8");
  try {
    await page.goto(url);
    const email = page.frameLocator("#email");
    const title = (await email.locator("h1.title").textContent({ timeout: TIMEOUT })).trim();
    check(title === "Tables & <things>", `the email's title is rendered: ${JSON.stringify(title)}`);
    const cell = email.getByRole("cell", { name: "Cell under test", exact: true });
    await cell.waitFor({ timeout: TIMEOUT });
    check((await cell.count()) === 1, "a table cell of the issue is inside the email iframe");

    const desktop = await frameWidth(page);
    await page.click("#mobile");
    await page.waitForFunction(() => document.getElementById("email").contentWindow.innerWidth < 400, null, { timeout: TIMEOUT });
    const mobile = await frameWidth(page);
    check(desktop >= 620 && mobile <= 375, `the iframe narrows from ${desktop}px to ${mobile}px for mobile`);

    const marker = `Edited while the page was open (${Date.now()})`;
    const before = Date.now();
    writeFileSync(file, original.replace("The opening paragraph of the table issue.", marker));
    await page.frameLocator("#email").locator("p", { hasText: marker }).waitFor({ timeout: TIMEOUT });
    check(true, `the edit appeared in the email without a manual reload (${Date.now() - before} ms after saving)`);
    check((await frameWidth(page)) <= 375, "the mobile width survives the reload");

    writeFileSync(file, original.replace('title: "Tables & <things>"', 'title: "Tables & <things>\nsend_at: [oops'));
    const overlay = page.locator(".overlay");
    await overlay.waitFor({ timeout: TIMEOUT });
    const location = (await overlay.locator(".location").first().textContent()).trim();
    check(/^content\/weekly\/2016-12-09-tables\.md:\d+:\d+$/.test(location), `the overlay shows the error at ${location}`);

    writeFileSync(file, original);
    await page.frameLocator("#email").getByRole("cell", { name: "Cell under test", exact: true }).waitFor({ timeout: TIMEOUT });
    check((await page.locator(".overlay").count()) === 0, "fixing the file clears the overlay");
  } finally {
    writeFileSync(file, original);
  }
}

async function screenshots(page, desktopPath, mobilePath) {
  await page.goto(url);
  await page.frameLocator("#email").locator("body").waitFor({ timeout: TIMEOUT });
  await page.waitForTimeout(300);
  await page.screenshot({ path: desktopPath, fullPage: false });
  await page.click("#mobile");
  await page.waitForTimeout(300);
  await page.screenshot({ path: mobilePath, fullPage: false });
  console.log(`saved ${desktopPath} and ${mobilePath}`);
}

const browser = await launch();
try {
  const page = await browser.context.newPage();
  page.setDefaultTimeout(TIMEOUT);
  if (mode === "test") await test(page, rest[0]);
  else if (mode === "screenshots") await screenshots(page, rest[0], rest[1]);
  else throw new Error(`unknown mode ${mode}; use "test" or "screenshots"`);
} catch (error) {
  console.error(`FAILED: ${error.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}

// Drives Debian's headless Chromium against a running `letterpress preview`.
//
//   node e2e.mjs test <issue-page-url> <markdown-file>
//       Opens the issue page, checks the title and a table cell inside the email iframe,
//       switches to mobile width, edits the Markdown file and waits for the new text without
//       reloading, then breaks the front matter and waits for the error overlay, then fixes it.
//   node e2e.mjs archive <file:// URL of a built archive's index.html>
//       Opens the archive from disk as a reader would, follows its links to a publication and an
//       issue, and checks on each page that the stylesheet applies (the body's computed style is
//       not the browser's default) and that every image loads.
//   node e2e.mjs reload <issue-page-url> <markdown-file> [runs]
//       The reload time (benches/preview_reload.sh): opens the issue page, then `runs` times
//       (default 5) writes a new paragraph into the Markdown file and times until the email
//       iframe shows it; prints each time and the median.
//   node e2e.mjs screenshots <issue-page-url> <desktop.png> <mobile.png>
//       Saves the issue page at both email widths.
//
// The Rust tests `preview::in_chromium_…` (tests/cli/preview.rs) start the server or build the
// archive and run this.

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
    await page.locator("#text", { hasText: marker }).waitFor({ timeout: TIMEOUT });
    check(true, "the plain-text part on the page shows the edit too");

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

// What a page looks like without any stylesheet, to compare against.
async function defaultStyle(page) {
  await page.setContent("<!DOCTYPE html><html><body><p>x</p></body></html>");
  return page.evaluate(() => {
    const style = getComputedStyle(document.body);
    return { fontFamily: style.fontFamily, maxWidth: style.maxWidth, backgroundColor: style.backgroundColor };
  });
}

async function checkArchivePage(page, target, plain) {
  await page.goto(target);
  const where = decodeURI(new URL(page.url()).pathname.split("/").slice(-3).join("/"));
  check(new URL(page.url()).protocol === "file:", `${where} is opened from disk`);
  const sheets = await page.evaluate(() => [...document.styleSheets].map((s) => s.href));
  check(sheets.length > 0 && sheets.every((href) => href && href.startsWith("file:")), `${where} links its stylesheet from disk: ${sheets}`);
  const style = await page.evaluate(() => {
    const style = getComputedStyle(document.body);
    return { fontFamily: style.fontFamily, maxWidth: style.maxWidth, backgroundColor: style.backgroundColor };
  });
  check(JSON.stringify(style) !== JSON.stringify(plain), `${where} is styled: ${JSON.stringify(style)}`);
  const images = await page.evaluate(async () => {
    const all = [...document.images];
    await Promise.all(all.map((img) => (img.complete ? null : new Promise((done) => { img.onload = img.onerror = done; }))));
    return all.map((img) => ({ src: img.currentSrc || img.src, width: img.naturalWidth }));
  });
  const broken = images.filter((img) => !(img.width > 0));
  check(broken.length === 0, `${where}: all ${images.length} images load${broken.length ? `; broken: ${JSON.stringify(broken)}` : ""}`);
  return images.length;
}

async function archive(page, indexUrl) {
  const plain = await defaultStyle(page);
  await checkArchivePage(page, indexUrl, plain);
  const publication = await page.locator("main h2 a").first().getAttribute("href");
  const issue = await page.locator("main ul.issues a").first().getAttribute("href");
  check(!publication.startsWith("http") && !issue.startsWith("http"), `the index links relatively: ${publication}, ${issue}`);
  await checkArchivePage(page, new URL(publication, indexUrl).href, plain);
  let images = 0;
  const issues = await page.locator("main ol.issues a").evaluateAll((links) => links.map((a) => a.href));
  for (const href of issues) {
    images += await checkArchivePage(page, href, plain);
    check((await page.locator("article h1").count()) === 1, `${href} is an issue page, not a directory listing`);
  }
  check(images > 0, `the issue pages show ${images} images`);
}

// Whether the email iframe shows `marker`; false while the page is between documents.
async function frameShows(page, marker) {
  try {
    return await page.evaluate((m) => {
      const body = document.getElementById("email")?.contentDocument?.body;
      return Boolean(body && body.innerText.includes(m));
    }, marker);
  } catch {
    return false;
  }
}

async function reload(page, file, runs) {
  const original = readFileSync(file, "utf8");
  const anchor = original.lastIndexOf("\n---\n") + 5;
  const times = [];
  try {
    await page.goto(url);
    await page.frameLocator("#email").locator("body").waitFor({ timeout: TIMEOUT });
    for (let run = 0; run <= runs; run++) {
      const marker = `Reload marker ${run} ${Date.now()}`;
      await page.waitForTimeout(500);
      const started = performance.now();
      writeFileSync(file, `${original.slice(0, anchor)}\n${marker}\n${original.slice(anchor)}`);
      while (!(await frameShows(page, marker))) {
        if (performance.now() - started > TIMEOUT) throw new Error(`the edit did not appear within ${TIMEOUT} ms`);
        await new Promise((done) => setTimeout(done, 2));
      }
      const ms = performance.now() - started;
      // Where the time went: when the page asked for the new email and when it had it.
      const fetched = await page.evaluate(() => {
        const src = new URL(document.getElementById("email").getAttribute("src"), location.href).href;
        const entry = performance.getEntriesByType("resource").filter((e) => e.name === src).pop();
        return entry && { start: performance.timeOrigin + entry.startTime, end: performance.timeOrigin + entry.responseEnd };
      });
      const savedAt = performance.timeOrigin + started;
      const split = fetched
        ? `email asked for after ${(fetched.start - savedAt).toFixed(1)} ms, received after ${(fetched.end - savedAt).toFixed(1)} ms`
        : "the page reloaded";
      // The first run warms the server and the browser up; it is not counted.
      if (run > 0) times.push(ms);
      console.log(`${run === 0 ? "warm-up" : `run ${run}`}: ${ms.toFixed(1)} ms from saving to visible (${split})`);
    }
  } finally {
    writeFileSync(file, original);
  }
  const sorted = [...times].sort((a, b) => a - b);
  console.log(`median of ${runs}: ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} ms (min ${sorted[0].toFixed(1)}, max ${sorted[sorted.length - 1].toFixed(1)})`);
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
  else if (mode === "archive") await archive(page, url);
  else if (mode === "reload") await reload(page, rest[0], Number(rest[1] || 5));
  else if (mode === "screenshots") await screenshots(page, rest[0], rest[1]);
  else throw new Error(`unknown mode ${mode}; use "test", "archive", "reload" or "screenshots"`);
} catch (error) {
  console.error(`FAILED: ${error.message}`);
  process.exitCode = 1;
} finally {
  await browser.close();
}

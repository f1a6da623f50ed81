// Slims caniemail's data.json to what `letterpress check` reads: for each feature its slug,
// title and category, and the latest test result of each client the lint names, when that
// result is not plain support. Usage: node slim.mjs <caniemail.json> <version> > caniemail.json
import fs from 'node:fs';

const CLIENTS = [
  'gmail.desktop-webmail', 'gmail.ios', 'gmail.android', 'gmail.mobile-webmail',
  'outlook.windows',
  'apple-mail.macos', 'apple-mail.ios',
  'yahoo.desktop-webmail', 'yahoo.ios', 'yahoo.android',
];

const [file, version] = process.argv.slice(2);
const data = JSON.parse(fs.readFileSync(file, 'utf8'));
const name = (id) => {
  const [family, platform] = id.split('.');
  return `${data.nicenames.family[family]} (${data.nicenames.platform[platform]})`;
};
const features = data.data.map((f) => {
  const support = {};
  for (const id of CLIENTS) {
    const [family, platform] = id.split('.');
    const results = Object.values(f.stats?.[family]?.[platform] ?? {});
    const latest = results.at(-1);
    if (latest !== undefined && !latest.startsWith('y')) support[id] = latest;
  }
  return { slug: f.slug, title: f.title, category: f.category, support };
});
const out = {
  source: `caniemail ${version} (https://www.caniemail.com), MIT licence: see LICENSE`,
  last_update_date: data.last_update_date,
  clients: Object.fromEntries(CLIENTS.map((id) => [id, name(id)])),
  features,
};
process.stdout.write(JSON.stringify(out, null, 0).replace(/\},\{"slug"/g, '},\n{"slug"') + '\n');

// The size budget: every module of src/ minified (terser, pinned in package.json) and gzipped,
// added up, must stay within 3072 bytes. Counting each file on its own is stricter than a
// bundle would be (each pays gzip's overhead), so an app's bundle of the kit is smaller still.

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { minify } from 'terser';

const BUDGET = 3072;
const src = new URL('../src/', import.meta.url).pathname;
let total = 0;
for (const name of readdirSync(src).filter((f) => f.endsWith('.js')).sort()) {
  const { code } = await minify(readFileSync(join(src, name), 'utf8'), { module: true, ecma: 2022 });
  const size = gzipSync(code, { level: 9 }).length;
  console.log(`${name}: ${code.length} bytes minified, ${size} gzipped`);
  total += size;
}
console.log(`total: ${total} of ${BUDGET} bytes (minified + gzipped)`);
if (total > BUDGET) {
  console.error(`over budget by ${total - BUDGET} bytes: make src/ smaller`);
  process.exit(1);
}

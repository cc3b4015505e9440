/**
 * Generates types/ (the TypeScript types of the raw bindings of the `handler`
 * world, as a guest sees them) from the repository's wit/ with jco.
 * `node scripts/types.mjs` rewrites them; `--check` only says whether the
 * committed ones are stale (exit code 1).
 */
import { readdir, readFile, rm, writeFile, mkdir } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const sdk = join(here, '..');
const wit = join(sdk, '..', '..', 'wit');
const out = join(sdk, 'types');

/** Every file under `dir` as `{ relative path: text }`. */
async function tree(dir) {
  const files = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])) {
    if (entry.isFile()) {
      const path = join(entry.parentPath ?? entry.path, entry.name);
      files[relative(dir, path)] = await readFile(path, 'utf8');
    }
  }
  return files;
}

/** The generated files as `{ relative path: text }`. */
export async function generate() {
  const transpile = createRequire(join(sdk, 'package.json')).resolve('@bytecodealliance/jco-transpile');
  // jco-transpile reads the WIT through WASI, and its shim preopens nothing by default.
  const shim = createRequire(transpile).resolve('@bytecodealliance/preview2-shim/filesystem');
  (await import(pathToFileURL(shim).href))._setPreopens({ '/': '/' });
  const { generateGuestTypes } = await import(pathToFileURL(transpile).href);
  const files = await generateGuestTypes(wit, { worldName: 'handler', outDir: '' });
  return Object.fromEntries(
    Object.entries(files).map(([path, bytes]) => [path, typeof bytes === 'string' ? bytes : new TextDecoder().decode(bytes)]),
  );
}

/** The paths whose committed text differs from the generated one. */
export async function stale() {
  const [fresh, committed] = await Promise.all([generate(), tree(out)]);
  const paths = new Set([...Object.keys(fresh), ...Object.keys(committed)]);
  return [...paths].filter((p) => fresh[p] !== committed[p]).sort();
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--check')) {
    const differing = await stale();
    if (differing.length) {
      console.error(`types/ is stale (run \`npm run types\`): ${differing.join(', ')}`);
      process.exit(1);
    }
  } else {
    await rm(out, { recursive: true, force: true });
    for (const [path, text] of Object.entries(await generate())) {
      await mkdir(dirname(join(out, path)), { recursive: true });
      await writeFile(join(out, path), text);
    }
  }
}

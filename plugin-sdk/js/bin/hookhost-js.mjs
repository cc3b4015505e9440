#!/usr/bin/env node
/**
 * hookhost-js build: bundles the project's `main` (TypeScript or JavaScript,
 * npm dependencies included) with esbuild, puts the SDK's glue in front of its
 * `handle` export, and componentizes the bundle for the `handler` world of the
 * .wit files in $HOOKHOST_WIT into dist/<name>.wasm.
 */
import { existsSync, statSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, dirname, relative, resolve } from 'node:path';
import process from 'node:process';

const USAGE = 'usage: hookhost-js build [DIR]   (DIR defaults to the current directory)';

class BuildError extends Error {}

async function main(args) {
  const [command, dir = '.'] = args;
  if (command !== 'build' || args.length > 2) throw new BuildError(USAGE);
  await build(resolve(dir));
}

async function build(root) {
  const pkg = JSON.parse(await readFile(resolve(root, 'package.json'), 'utf8').catch(() => {
    throw new BuildError(`no package.json in ${root}`);
  }));
  if (typeof pkg.name !== 'string' || !pkg.name) throw new BuildError('package.json has no "name"');
  if (typeof pkg.main !== 'string') throw new BuildError('package.json has no "main": set it to the handler module, e.g. "src/handler.ts"');
  const name = pkg.name.replace(/^@[^/]+\//, '');
  const entry = resolve(root, pkg.main);
  if (!existsSync(entry)) throw new BuildError(`package.json's "main" is ${pkg.main}, which does not exist`);
  const wit = process.env.HOOKHOST_WIT;
  if (!wit) throw new BuildError('HOOKHOST_WIT is not set: run `hookhost plugin build`, or set it to the directory of hookhost\'s .wit files');
  if (!existsSync(wit) || !statSync(wit).isDirectory()) throw new BuildError(`HOOKHOST_WIT is ${wit}, which is not a directory`);

  const dist = resolve(root, 'dist');
  await mkdir(dist, { recursive: true });
  const bundlePath = resolve(dist, `${name}.js`);
  const started = performance.now();
  const bundle = await bundleHandler(root, entry, bundlePath);
  await writeFile(bundlePath, bundle);

  const { componentize } = await import('@bytecodealliance/componentize-js');
  // componentize-js names the bundle in stack traces relative to the working directory.
  process.chdir(root);
  let component;
  try {
    ({ component } = await componentize({
      sourcePath: bundlePath,
      witPath: resolve(wit),
      worldName: 'handler',
      // Keep stdio (console), random and clocks; the host links no wasi:http.
      disableFeatures: ['http', 'fetch-event'],
    }));
  } catch (e) {
    throw new BuildError(`componentize-js failed: ${e.message}`);
  }
  const out = resolve(dist, `${name}.wasm`);
  await writeFile(out, component);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  const mb = (component.length / 1e6).toFixed(1);
  console.error(`built ${relative(process.cwd(), out)} (${mb} MB) in ${seconds} s`);
}

/** The bundle: the glue exporting the author's `handle`, then the source map the SDK reads on an uncaught exception. */
async function bundleHandler(root, entry, bundlePath) {
  const esbuild = await import('esbuild');
  const glue = [
    `import { handle as authorHandle } from ${JSON.stringify(entry)};`,
    `import { wrap } from "@hookhost/sdk/entry";`,
    `export const handle = wrap(authorHandle);`,
  ].join('\n');
  let result;
  try {
    result = await esbuild.build({
      stdin: { contents: glue, resolveDir: root, sourcefile: 'hookhost-entry.js', loader: 'js' },
      absWorkingDir: root,
      bundle: true,
      format: 'esm',
      platform: 'neutral',
      mainFields: ['module', 'main'],
      conditions: ['import', 'default'],
      target: 'es2022',
      external: ['hookhost:*'],
      sourcemap: 'external',
      outfile: bundlePath,
      write: false,
      logLevel: 'silent',
    });
  } catch (e) {
    throw new BuildError(formatEsbuildErrors(e.errors ?? [], entry, root) || e.message);
  }
  const code = result.outputFiles.find((f) => f.path.endsWith('.js')).text;
  const map = JSON.parse(result.outputFiles.find((f) => f.path.endsWith('.map')).text);
  // Sources relative to the project, as the author knows them.
  const sources = map.sources.map((s) => relative(root, resolve(dirname(bundlePath), s)));
  const embedded = { file: basename(bundlePath), sources, mappings: map.mappings };
  // Appended after the code, so the mapped lines stay where they are.
  return `${code}\nglobalThis[Symbol.for("hookhost.sourcemap")] = ${JSON.stringify(embedded)};\n`;
}

/** esbuild's errors as `file:line:column: error: text`, a missing `handle` export in words. */
function formatEsbuildErrors(errors, entry, root) {
  return errors.map((e) => {
    if (/No matching export in .* for import "handle"/.test(e.text)) {
      return `${relative(root, entry)}: error: the handler module does not export a function named handle; add \`export function handle(event) { ... }\``;
    }
    const at = e.location ? `${e.location.file}:${e.location.line}:${e.location.column + 1}: ` : '';
    const line = e.location?.lineText ? `\n    ${e.location.lineText}` : '';
    return `${at}error: ${e.text}${line}`;
  }).join('\n');
}

main(process.argv.slice(2)).catch((e) => {
  console.error(e instanceof BuildError ? `hookhost-js: ${e.message}` : e);
  process.exit(1);
});

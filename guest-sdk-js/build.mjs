#!/usr/bin/env node
// Builds a JavaScript wasmtrace plugin into a component with componentize-js
// and stamps its identity (the `wasmtrace-plugin` custom section the host
// reads the plugin's name and version from).
//
//   wasmtrace-componentize app.js -o app.wasm [--name NAME] [--version VERSION]
//                          [--wit DIR] [--world WORLD] [--http] [--enable FEATURE]...
//
// Defaults: the WIT bundled with this package, world
// `wasmtrace:plugin/plugin`, name and version from the package.json next to
// app.js (or its nearest parent). WASI features are off unless enabled
// (`--enable http` for wasi:http and fetch, `--enable clocks` for Date.now).
// `--http` builds an HTTP service for `wasmtrace serve` instead: world
// `wasmtrace:http-plugin/http-plugin` (`wit/http`: wasi:http/proxy plus the
// wasmtrace imports), with every WASI feature enabled, so the app answers
// with `addEventListener('fetch', ...)`.
//
// The app is bundled first (rolldown): `import ... from 'wasmtrace-sdk'`
// resolves to this package's `src/index.js`, other bare imports to the
// app's node_modules, and the `wasmtrace:*` / `wasi:*` imports stay for
// componentize-js to bind.

import { componentize } from '@bytecodealliance/componentize-js';
import { rolldown } from 'rolldown';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const FEATURES = ['stdio', 'random', 'clocks', 'http', 'fetch-event'];
const HTTP_WORLD = 'wasmtrace:http-plugin/http-plugin';

function usage(message) {
  console.error(`error: ${message}`);
  console.error('usage: wasmtrace-componentize APP.js -o OUT.wasm [--name NAME] [--version VERSION] [--wit DIR] [--world WORLD] [--http] [--enable FEATURE]...');
  process.exit(2);
}

function parse(argv) {
  const args = { enable: [] };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => argv[++i] ?? usage(`${a} needs a value`);
    if (a === '-o' || a === '--out') args.out = value();
    else if (a === '--name') args.name = value();
    else if (a === '--version') args.version = value();
    else if (a === '--wit') args.wit = value();
    else if (a === '--world') args.world = value();
    else if (a === '--enable') args.enable.push(value());
    else if (a === '--http') args.http = true;
    else if (a.startsWith('-')) usage(`unknown option ${a}`);
    else if (args.source) usage(`one source file, got ${args.source} and ${a}`);
    else args.source = a;
  }
  if (!args.source) usage('no source file');
  if (!args.out) usage('no -o OUT.wasm');
  for (const f of args.enable) if (!FEATURES.includes(f)) usage(`unknown feature ${f} (one of ${FEATURES.join(', ')})`);
  return args;
}

/// The package.json nearest to `dir`, if any.
async function nearestPackage(dir) {
  for (let d = resolve(dir); ; d = dirname(d)) {
    const p = join(d, 'package.json');
    if (existsSync(p)) return JSON.parse(await readFile(p, 'utf8'));
    if (dirname(d) === d) return undefined;
  }
}

/// LEB128 of an unsigned integer.
function leb(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

/// `component` with a custom section `name` holding `payload` appended (a
/// component may carry custom sections anywhere at its top level).
export function withCustomSection(component, name, payload) {
  const nameBytes = new TextEncoder().encode(name);
  const body = [...leb(nameBytes.length), ...nameBytes, ...new TextEncoder().encode(payload)];
  const section = Uint8Array.from([0, ...leb(body.length), ...body]);
  const out = new Uint8Array(component.length + section.length);
  out.set(component);
  out.set(section, component.length);
  return out;
}

const args = parse(process.argv.slice(2));
const pkg = (await nearestPackage(dirname(args.source))) ?? {};
const name = args.name ?? pkg.name;
const version = args.version ?? pkg.version;
if (!name || !version) usage('no --name/--version and no package.json with name and version next to the source');
const wit = args.wit ?? (existsSync(join(here, 'wit')) ? join(here, 'wit') : join(here, '..', 'wit'));
const started = performance.now();
const work = await mkdtemp(join(tmpdir(), 'wasmtrace-componentize-'));
try {
  const source = join(work, 'app.js');
  await bundle(resolve(args.source), source);
  let witPath = wit;
  if (args.http) {
    // `wit/http/world.wit` with the plugin and telemetry packages and the
    // WASI ones as its dependencies, in one directory as componentize-js
    // wants it.
    witPath = join(work, 'wit');
    await cp(join(wit, 'http'), witPath, { recursive: true });
    await cp(join(wit, 'deps'), join(witPath, 'deps'), { recursive: true });
    await cp(join(wit, 'plugin.wit'), join(witPath, 'deps', 'plugin.wit'));
    // The proxy world imports stdio, clocks and random anyway: the engine
    // may as well use them (errors reach stderr instead of trapping).
    args.enable.push(...FEATURES);
  }
  const { component } = await componentize({
    sourcePath: source,
    witPath,
    worldName: args.world ?? (args.http ? HTTP_WORLD : 'wasmtrace:plugin/plugin'),
    disableFeatures: FEATURES.filter((f) => !args.enable.includes(f)),
  });
  await writeFile(args.out, withCustomSection(component, 'wasmtrace-plugin', `${name}@${version}`));
  console.error(`${args.out}: ${name}@${version}, ${component.length} bytes in ${((performance.now() - started) / 1000).toFixed(1)} s`);
} finally {
  await rm(work, { recursive: true, force: true });
}

/// Bundles the app at `input` into one ES module at `output`.
async function bundle(input, output) {
  const build = await rolldown({
    input,
    platform: 'neutral',
    external: [/^wasmtrace:/, /^wasi:/],
    resolve: { alias: { 'wasmtrace-sdk': join(here, 'src', 'index.js') } },
    logLevel: 'warn',
  });
  try {
    await build.write({ file: output, format: 'esm', codeSplitting: false });
  } finally {
    await build.close();
  }
}

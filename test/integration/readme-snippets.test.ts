/**
 * Every ```ts (or ```js) block of README.md runs exactly as printed. Each block is written, unedited,
 * to a file in a fresh temporary directory whose node_modules/sluice links to this checkout (so
 * `import ... from 'sluice'` loads the built package, dist/; node_modules/kafkajs links to the
 * devDependency, for the Kafka server's snippet), and run there as an ES module with
 * top-level await (`node --import tsx`; .mts or .mjs). It must exit 0 within a timeout; on failure
 * the assertion shows its stdout and stderr. The blocks are also type-checked together (tsc
 * --strict against dist/*.d.ts), and the package's CommonJS build is checked to expose every
 * export as a named ES import under plain Node, as it does for the snippets. Other fences (```sh,
 * ```text, bare ```) are not run.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';

const root = path.join(__dirname, '..', '..');
const requireFromRoot = createRequire(path.join(root, 'package.json'));
const RUN_TIMEOUT_MS = 60_000;
const RUN_LANGS: Record<string, '.mts' | '.mjs'> = { ts: '.mts', typescript: '.mts', js: '.mjs', javascript: '.mjs' };

interface Snippet {
  heading: string;
  firstLine: string;
  ext: '.mts' | '.mjs';
  code: string;
}

/** The runnable fenced blocks of a Markdown text, in order, each with the heading above it. */
function extractSnippets(markdown: string): Snippet[] {
  const snippets: Snippet[] = [];
  const lines = markdown.split('\n');
  let heading = '(top)';
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\S*)\s*$/.exec(lines[i]);
    if (open === null) {
      const h = /^#{1,6}\s+(.*)$/.exec(lines[i]);
      if (h !== null) heading = h[1].trim();
      continue;
    }
    const body: string[] = [];
    for (i++; i < lines.length && !/^```\s*$/.test(lines[i]); i++) body.push(lines[i]);
    if (i === lines.length) throw new Error(`README.md: the block under "${heading}" is never closed`);
    const ext = RUN_LANGS[open[1].toLowerCase()];
    if (ext === undefined) continue;
    const firstLine = body.find((l) => l.trim() !== '')?.trim() ?? '(empty)';
    snippets.push({ heading, firstLine, ext, code: `${body.join('\n')}\n` });
  }
  return snippets;
}

/** A fresh working directory in which `sluice` resolves to this checkout. */
function sandbox(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-readme-'));
  fs.mkdirSync(path.join(dir, 'node_modules'));
  fs.symlinkSync(root, path.join(dir, 'node_modules', 'sluice'), 'dir');
  // The Kafka client the server section's snippet uses (a devDependency here, the user's own there).
  fs.symlinkSync(path.join(root, 'node_modules', 'kafkajs'), path.join(dir, 'node_modules', 'kafkajs'), 'dir');
  return dir;
}

function output(r: SpawnSyncReturns<string>): string {
  const how = r.error !== undefined ? `failed to run: ${r.error.message}` : r.signal !== null ? `killed by ${r.signal}` : `exit code ${r.status}`;
  return `${how}\n--- stdout ---\n${r.stdout ?? ''}\n--- stderr ---\n${r.stderr ?? ''}`;
}

const snippets = extractSnippets(fs.readFileSync(path.join(root, 'README.md'), 'utf8'));
const tsx = pathToFileURL(requireFromRoot.resolve('tsx/esm')).href;
const dirs: string[] = [];

afterEach(() => {
  for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
});

describe('README snippets', () => {
  it('finds the snippets (the Log and Broker examples at least)', () => {
    expect(fs.existsSync(path.join(root, 'dist', 'index.js')), 'dist/ is built by npm install').toBe(true);
    expect(snippets.length).toBeGreaterThanOrEqual(2);
    expect(snippets.map((s) => s.heading)).toEqual(expect.arrayContaining(['The log', 'The broker: topics, producers, consumer groups']));
  });

  it.each(snippets.map((s, i) => [`${i + 1}. ${s.heading}: ${s.firstLine}`, s] as const))('runs %s', (_name, snippet) => {
    const dir = sandbox();
    dirs.push(dir);
    const file = `snippet${snippet.ext}`;
    fs.writeFileSync(path.join(dir, file), snippet.code);
    const r = spawnSync(process.execPath, ['--import', tsx, file], {
      cwd: dir,
      encoding: 'utf8',
      timeout: RUN_TIMEOUT_MS,
      killSignal: 'SIGKILL',
    });
    expect(r.status, output(r)).toBe(0);
  }, RUN_TIMEOUT_MS + 30_000);

  it('type-checks every snippet (tsc --strict, against dist/*.d.ts)', () => {
    const dir = sandbox();
    dirs.push(dir);
    fs.symlinkSync(path.join(root, 'node_modules', '@types'), path.join(dir, 'node_modules', '@types'), 'dir');
    const files = snippets.map((s, i) => {
      const file = `snippet-${i + 1}${s.ext}`;
      fs.writeFileSync(path.join(dir, file), s.code);
      return file;
    });
    const tsc = requireFromRoot.resolve('typescript/bin/tsc');
    const r = spawnSync(
      process.execPath,
      [tsc, '--noEmit', '--strict', '--skipLibCheck', '--allowJs', '--checkJs', '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2022', '--types', 'node', ...files],
      { cwd: dir, encoding: 'utf8', timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL' },
    );
    expect(r.status, output(r)).toBe(0);
  }, RUN_TIMEOUT_MS + 30_000);

  it('exposes every export of the CommonJS build as a named ES import under plain Node', () => {
    const dir = sandbox();
    dirs.push(dir);
    const script =
      "import * as esm from 'sluice'; import { createRequire } from 'node:module';" +
      "const cjs = createRequire(import.meta.url)('sluice');" +
      "const missing = Object.keys(cjs).filter((k) => k !== '__esModule' && esm[k] !== cjs[k]);" +
      "if (missing.length > 0) { console.error('not importable by name: ' + missing.join(', ')); process.exit(1); }";
    fs.writeFileSync(path.join(dir, 'names.mjs'), script);
    const r = spawnSync(process.execPath, ['names.mjs'], { cwd: dir, encoding: 'utf8', timeout: RUN_TIMEOUT_MS, killSignal: 'SIGKILL' });
    expect(r.status, output(r)).toBe(0);
  }, RUN_TIMEOUT_MS + 30_000);
});

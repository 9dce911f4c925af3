/**
 * Opens an HTML file in headless Debian `chromium` for report tests: one run takes a screenshot
 * (PNG), another dumps the rendered DOM, both with console logging on stderr so page errors show.
 * `chromiumPath()` is null when chromium is not installed; tests then skip with a clear message
 * (CI installs it through .ci/run's apt list).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { pathToFileURL } from 'node:url';

export interface Rendered {
  /** the screenshot */
  png: string;
  /** the DOM after load, as chromium serialises it */
  dom: string;
  /** console errors and uncaught exceptions chromium logged while loading the page */
  errors: string[];
}

let found: string | null | undefined;

export function chromiumPath(): string | null {
  if (found !== undefined) return found;
  found = null;
  for (const name of ['chromium', 'chromium-browser', 'google-chrome']) {
    try {
      found = execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim() || null;
    } catch {
      found = null;
    }
    if (found) break;
  }
  return found;
}

export const CHROMIUM_MISSING = 'chromium is not installed (apt-get install chromium): the HTML report is not rendered';

function run(bin: string, profile: string, args: string[]): { stdout: string; stderr: string } {
  const r = spawnSync(
    bin,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-dev-shm-usage',
      '--no-first-run',
      '--hide-scrollbars',
      `--user-data-dir=${profile}`,
      '--enable-logging=stderr',
      '--v=0',
      ...args,
    ],
    { encoding: 'utf8', timeout: 60_000, maxBuffer: 64 * 1024 * 1024 },
  );
  if (r.error) throw r.error;
  return { stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Console errors from chromium's stderr log ("CONSOLE" lines at error level, uncaught errors). */
function pageErrors(stderr: string): string[] {
  return stderr.split('\n').filter((l) => /CONSOLE\(\d+\)|Uncaught|console\.error/i.test(l) && !/DevTools listening/.test(l));
}

/** Renders `htmlFile` and returns the screenshot path, the rendered DOM and page errors. */
export function renderInChromium(htmlFile: string, pngPath = htmlFile.replace(/\.html?$/, '') + '.png'): Rendered {
  const bin = chromiumPath();
  if (!bin) throw new Error(CHROMIUM_MISSING);
  const url = pathToFileURL(path.resolve(htmlFile)).href;
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-chromium-'));
  try {
    const shot = run(bin, profile, [`--screenshot=${path.resolve(pngPath)}`, '--window-size=1200,2000', url]);
    const dump = run(bin, profile, ['--dump-dom', url]);
    return { png: pngPath, dom: dump.stdout, errors: [...pageErrors(shot.stderr), ...pageErrors(dump.stderr)] };
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}

/** True when `file` starts with the PNG signature and is larger than `minBytes`. */
export function isNonTrivialPng(file: string, minBytes = 10_000): boolean {
  if (!fs.existsSync(file)) return false;
  const b = fs.readFileSync(file);
  const sig = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return b.length > minBytes && b.subarray(0, 8).equals(sig);
}

/**
 * The ACL file of a broker data directory, `<dir>/security/acls.json` (UTF-8 JSON):
 *
 *   {
 *     "format": 1,
 *     "acls": [
 *       { "principal": "User:alice", "permission": "allow", "operation": "read",
 *         "resourceType": "topic", "patternType": "prefixed", "name": "orders." },
 *       ...
 *     ]
 *   }
 *
 * Each entry is checked as acl.ts's aclEntry checks it (every field, no other) and appears once;
 * at most ACL_ENTRIES_MAX entries and ACL_FILE_BYTES_MAX bytes. No file means no entries (so,
 * with ACLs enforced, nothing is allowed). The broker never opens the file.
 *
 * Writers (`sluice acls`, through modifyAcls) take an flock of `<dir>/security/.lock`, one at a
 * time, and replace the file atomically: acls.json.tmp written and fsynced, renamed over
 * acls.json, the directory fsynced. A reader sees the old file or the new one whole, after a
 * crash too (an acls.json.tmp left behind is ignored, and overwritten by the next write).
 *
 * A running server reads it through an AclStore, which stats it at most once every RECHECK_MS
 * and reads it again when its inode, size or modification time changed: a change made while the
 * server runs applies within about a second, with no restart.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { writeJsonAtomic } from '../../broker/store/broker-directory';
import { ErrorCode, SluiceError } from '../../errors';
import { lockDirectory } from '../../storage/directory-lock';
import { aclEntry, sameEntry, type AclEntry } from './acl';
import type { AclSource } from './authorizer';

export const ACL_FORMAT = 1;
const SECURITY_DIR = 'security';
const ACL_FILE = 'acls.json';
/** Bounds the file, and the index a server builds of it at each change (decisions cost the same at any count). */
export const ACL_ENTRIES_MAX = 10_000;
/** Ten thousand entries of long names fit; a larger file is not one this module wrote. */
export const ACL_FILE_BYTES_MAX = 16 * 1024 * 1024;
/** How often a running server looks at the file for changes. */
export const RECHECK_MS = 1000;

export function aclFileOf(dir: string): string {
  return path.join(dir, SECURITY_DIR, ACL_FILE);
}

/** The entries of the ACL file (none if there is none); CORRUPT, with its path, if it is not one. */
export function readAclFile(file: string): AclEntry[] {
  let text: string;
  try {
    if (fs.statSync(file).size > ACL_FILE_BYTES_MAX) throw corrupt(file, `larger than ${ACL_FILE_BYTES_MAX} bytes`);
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw corrupt(file, `not JSON (${(e as Error).message})`);
  }
  const d = doc as { format?: unknown; acls?: unknown };
  if (d === null || typeof d !== 'object' || d.format !== ACL_FORMAT || !Array.isArray(d.acls)) throw corrupt(file, `not an ACL file of format ${ACL_FORMAT} ({"format": ${ACL_FORMAT}, "acls": [...]})`);
  if (d.acls.length > ACL_ENTRIES_MAX) throw corrupt(file, `more than ${ACL_ENTRIES_MAX} entries`);
  try {
    return d.acls.map((e, i) => aclEntry(e, `entry ${i}`));
  } catch (e) {
    throw corrupt(file, (e as Error).message);
  }
}

function corrupt(file: string, why: string): SluiceError {
  const e = new SluiceError(`${file}: ${why}`, ErrorCode.CORRUPT);
  e.path = file;
  return e;
}

/**
 * Changes the ACLs of the data directory `dir` (which must exist): `change` gets the entries and
 * returns the new ones, which replace them (each kept once). Returns the new entries.
 */
export async function modifyAcls(dir: string, change: (entries: AclEntry[]) => AclEntry[]): Promise<AclEntry[]> {
  checkDataDir(dir);
  const securityDir = path.join(dir, SECURITY_DIR);
  await fs.promises.mkdir(securityDir, { recursive: true });
  const lock = lockDirectory(securityDir, 'ACL directory');
  try {
    const file = aclFileOf(dir);
    const entries = unique(change(readAclFile(file)));
    if (entries.length > ACL_ENTRIES_MAX) throw new RangeError(`at most ${ACL_ENTRIES_MAX} ACL entries, this change makes ${entries.length}`);
    await writeJsonAtomic(file, { format: ACL_FORMAT, acls: entries });
    return entries;
  } finally {
    lock.release();
  }
}

/** The ACLs of the data directory `dir` (which must exist), as they are on disk now. */
export function readAcls(dir: string): AclEntry[] {
  checkDataDir(dir);
  return readAclFile(aclFileOf(dir));
}

function checkDataDir(dir: string): void {
  if (!fs.statSync(dir, { throwIfNoEntry: false })?.isDirectory()) throw new SluiceError(`${dir} is not a directory: give the broker data directory (sluice serve --data)`, ErrorCode.IO);
}

function unique(entries: AclEntry[]): AclEntry[] {
  return entries.filter((e, i) => entries.findIndex((o) => sameEntry(o, e)) === i);
}

/**
 * The ACLs of a data directory as a running server sees them: read at open (a file that is not
 * an ACL file fails the open), then again whenever the file changed, looked at no more than once
 * every RECHECK_MS. A file that changed into one that is not an ACL file (an edit by hand gone
 * wrong) leaves the entries read last in force until it is fixed: no access is opened or closed
 * by a mistake. Used on the event loop only; the reads are synchronous, of a bounded file.
 */
export class AclStore implements AclSource {
  readonly #file: string;
  #entries: readonly AclEntry[];
  #seen: string;
  #checkedAt: number;

  private constructor(file: string) {
    this.#file = file;
    this.#seen = versionOf(file);
    this.#entries = readAclFile(file);
    this.#checkedAt = performance.now();
  }

  static open(dir: string): AclStore {
    return new AclStore(aclFileOf(dir));
  }

  entries(): readonly AclEntry[] {
    const now = performance.now();
    if (now - this.#checkedAt >= RECHECK_MS) {
      this.#checkedAt = now;
      this.#refresh();
    }
    return this.#entries;
  }

  #refresh(): void {
    const version = versionOf(this.#file);
    if (version === this.#seen) return;
    try {
      this.#entries = readAclFile(this.#file);
      this.#seen = version;
    } catch {
      // Kept: see the class comment. The version stays unseen, so a fix is read when it lands.
    }
  }
}

/** What changes when the file is replaced or edited: inode, size and modification time ('' for none). */
function versionOf(file: string): string {
  const s = fs.statSync(file, { throwIfNoEntry: false, bigint: true });
  return s === undefined ? '' : `${s.ino}:${s.size}:${s.mtimeNs}`;
}

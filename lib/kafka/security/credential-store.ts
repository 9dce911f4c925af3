/**
 * The users a SASL listener accepts, kept in the broker's data directory:
 *
 *   <dir>/security/users.json   (mode 0600; its directory 0700)
 *   {
 *     "format": 1,
 *     "secret": "<base64, 32 random bytes>",       keys the made-up salts of unknown users
 *     "users": {
 *       "<name>": {
 *         "SCRAM-SHA-256": { "salt": "<base64>", "iterations": 4096,
 *                            "storedKey": "<base64>", "serverKey": "<base64>" },
 *         "SCRAM-SHA-512": { ... }                  one entry per mechanism the user has
 *       }
 *     }
 *   }
 *
 * Never a password: each mechanism's entry is the SCRAM credential of scram-keys.ts. PLAIN checks
 * a password against the user's SCRAM-SHA-512 entry (or SCRAM-SHA-256 when it has only that), so a
 * user has PLAIN whenever it has either. The file is replaced atomically (a temporary file, fsync,
 * rename, directory fsync: broker-directory.ts), so a reader sees the old or the new file whole,
 * and a crash leaves one of them. One writer at a time: a writer holds `users.json.lock` (created
 * exclusively, holding its pid; one left by a process that died is removed) while it reads,
 * changes and replaces the file, and a second writer fails with LOCKED. The server only reads, and reads again when the file's size, mtime or inode change, so users added or
 * removed take effect at the next authentication without a restart. The commands never open the
 * broker: they work beside a running `sluice serve` of the directory.
 */
import { createHmac, randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { fsyncDir, writeJsonAtomic } from '../../broker/store/broker-directory';
import { ErrorCode, SluiceError } from '../../errors';
import { shown } from '../../validate';
import { deriveCredential, hashBytes, isScramMechanism, SCRAM_ITERATIONS_MAX, SCRAM_ITERATIONS_MIN, SCRAM_MECHANISMS, type ScramCredential, type ScramMechanism } from './scram-keys';

export const USERS_FORMAT = 1;
const SECRET_BYTES = 32;
/** User names: 1 to 255 characters, none of them a control character (PLAIN separates fields with NUL). */
const USER_NAME = /^[^\u0000-\u001f\u007f]{1,255}$/u;

export function usersFile(dir: string): string {
  return path.join(path.resolve(dir), 'security', 'users.json');
}

type StoredUsers = Map<string, Map<ScramMechanism, ScramCredential>>;

interface UsersFileContent {
  secret: Buffer;
  users: StoredUsers;
}

/** The users of a data directory as a listener reads them: reloaded when the file changes. Thread-confined. */
export class CredentialStore {
  readonly #file: string;
  #content: UsersFileContent = { secret: randomBytes(SECRET_BYTES), users: new Map() };
  /** size:mtime:inode of the file last read ('' for none). */
  #version = '';
  #refreshing: Promise<void> | null = null;

  constructor(dir: string) {
    this.#file = usersFile(dir);
  }

  /** Reads the file again if it changed since last read (one read for concurrent callers). */
  refresh(): Promise<void> {
    this.#refreshing ??= this.#reload().finally(() => {
      this.#refreshing = null;
    });
    return this.#refreshing;
  }

  async #reload(): Promise<void> {
    let stat: fs.Stats | null = null;
    try {
      stat = await fs.promises.stat(this.#file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    const version = stat === null ? '' : `${stat.size}:${stat.mtimeMs}:${stat.ino}`;
    if (version === this.#version) return;
    this.#content = stat === null ? { secret: this.#content.secret, users: new Map() } : parseUsers(await fs.promises.readFile(this.#file, 'utf8'), this.#file);
    this.#version = version;
  }

  /** The user's credential for `mechanism`, or undefined. */
  credential(user: string, mechanism: ScramMechanism): ScramCredential | undefined {
    return this.#content.users.get(user)?.get(mechanism);
  }

  /** The mechanisms the user has credentials for (none: no such user). */
  mechanisms(user: string): ScramMechanism[] {
    return [...(this.#content.users.get(user)?.keys() ?? [])];
  }

  /**
   * A credential for a user who does not exist, so that SCRAM answers as it does for one who does:
   * the same salt every time for the same name (keyed by the file's secret), the default
   * iterations, and keys no proof matches.
   */
  unknownUserCredential(user: string, mechanism: ScramMechanism): ScramCredential {
    const salt = createHmac('sha256', this.#content.secret).update(`${mechanism}\0${user}`).digest();
    return { salt, iterations: SCRAM_ITERATIONS_MIN, storedKey: randomBytes(hashBytes(mechanism)), serverKey: randomBytes(hashBytes(mechanism)) };
  }
}

/** One user as `listUsers` reports it. */
export interface UserInfo {
  name: string;
  mechanisms: ScramMechanism[];
  iterations: number;
}

export interface AddUserOptions {
  /** Default both SCRAM mechanisms. */
  mechanisms?: readonly ScramMechanism[];
  /** Default 4096 (Kafka's). */
  iterations?: number;
}

/** Adds the user, or replaces its credentials (a new password); returns whether it existed. */
export async function addUser(dir: string, name: string, password: string, options: AddUserOptions = {}): Promise<boolean> {
  checkUserName(name);
  if (typeof password !== 'string' || password.length === 0) throw new TypeError('the password must be a non-empty string');
  const mechanisms = options.mechanisms ?? SCRAM_MECHANISMS;
  if (!Array.isArray(mechanisms) || mechanisms.length === 0 || !mechanisms.every((m) => isScramMechanism(m))) {
    throw new TypeError(`mechanisms must be a non-empty list of ${SCRAM_MECHANISMS.join(', ')}, got ${shown(mechanisms)}`);
  }
  const iterations = options.iterations ?? SCRAM_ITERATIONS_MIN;
  if (!Number.isInteger(iterations) || iterations < SCRAM_ITERATIONS_MIN || iterations > SCRAM_ITERATIONS_MAX) {
    throw new RangeError(`iterations must be an integer between ${SCRAM_ITERATIONS_MIN} and ${SCRAM_ITERATIONS_MAX}, got ${shown(iterations)}`);
  }
  const credentials = new Map<ScramMechanism, ScramCredential>();
  for (const m of mechanisms) credentials.set(m, await deriveCredential(m, password, iterations));
  return changeUsers(dir, (users) => {
    const existed = users.has(name);
    users.set(name, credentials);
    return { changed: true, result: existed };
  });
}

/** Removes the user; returns whether it existed. */
export async function removeUser(dir: string, name: string): Promise<boolean> {
  checkUserName(name);
  return changeUsers(dir, (users) => {
    const existed = users.delete(name);
    return { changed: existed, result: existed };
  });
}

/** Reads the file, lets `change` edit the users, writes them back if it changed them: under the writers' lock. */
async function changeUsers<T>(dir: string, change: (users: StoredUsers) => { changed: boolean; result: T }): Promise<T> {
  const file = usersFile(dir);
  const securityDir = path.dirname(file);
  const created = await fs.promises.mkdir(securityDir, { recursive: true, mode: 0o700 });
  if (created !== undefined) await fsyncDir(path.dirname(securityDir));
  const lock = await takeLock(`${file}.lock`);
  try {
    const content = await readUsersFile(dir);
    const { changed, result } = change(content.users);
    if (changed) await writeUsersFile(file, content);
    return result;
  } finally {
    await fs.promises.rm(lock, { force: true });
  }
}

/** Creates `lock` holding this process's pid; one whose process is gone is replaced, a live one is LOCKED. */
async function takeLock(lock: string): Promise<string> {
  for (let attempt = 0; ; attempt++) {
    try {
      await fs.promises.writeFile(lock, String(process.pid), { flag: 'wx', mode: 0o600 });
      return lock;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number(await fs.promises.readFile(lock, 'utf8').catch(() => ''));
      if (attempt > 0 || isAlive(pid)) throw new SluiceError(`${lock}: another process${Number.isInteger(pid) && pid > 0 ? ` (pid ${pid})` : ''} is changing the users; try again`, ErrorCode.LOCKED);
      await fs.promises.rm(lock, { force: true }); // left by a writer that died
    }
  }
}

function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The users, by name. */
export async function listUsers(dir: string): Promise<UserInfo[]> {
  const { users } = await readUsersFile(dir);
  return [...users.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([name, creds]) => ({ name, mechanisms: [...creds.keys()].sort(), iterations: Math.min(...[...creds.values()].map((c) => c.iterations)) }));
}

function checkUserName(name: unknown): asserts name is string {
  if (typeof name !== 'string' || !USER_NAME.test(name)) throw new TypeError(`a user name must be 1 to 255 characters, none a control character, got ${shown(name)}`);
}

async function readUsersFile(dir: string): Promise<UsersFileContent> {
  const file = usersFile(dir);
  try {
    return parseUsers(await fs.promises.readFile(file, 'utf8'), file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { secret: randomBytes(SECRET_BYTES), users: new Map() };
    throw e;
  }
}

async function writeUsersFile(file: string, content: UsersFileContent): Promise<void> {
  const users: Record<string, Record<string, unknown>> = {};
  for (const [name, creds] of content.users) {
    users[name] = Object.fromEntries([...creds].map(([m, c]) => [m, { salt: c.salt.toString('base64'), iterations: c.iterations, storedKey: c.storedKey.toString('base64'), serverKey: c.serverKey.toString('base64') }]));
  }
  await writeJsonAtomic(file, { format: USERS_FORMAT, secret: content.secret.toString('base64'), users }, 0o600);
}

function parseUsers(text: string, file: string): UsersFileContent {
  const bad = (what: string): SluiceError => {
    const e = new SluiceError(`${file}: ${what}`, ErrorCode.CORRUPT);
    e.path = file;
    return e;
  };
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw bad(`not JSON (${(e as Error).message})`);
  }
  const o = doc as { format?: unknown; secret?: unknown; users?: unknown };
  if (o === null || typeof o !== 'object' || o.format !== USERS_FORMAT) throw bad(`not a users file of format ${USERS_FORMAT}`);
  if (typeof o.secret !== 'string' || Buffer.from(o.secret, 'base64').length !== SECRET_BYTES) throw bad('no secret of 32 bytes');
  if (o.users === null || typeof o.users !== 'object') throw bad('no users object');
  const users: StoredUsers = new Map();
  for (const [name, entry] of Object.entries(o.users as Record<string, unknown>)) {
    if (entry === null || typeof entry !== 'object') throw bad(`user ${JSON.stringify(name)} is not an object`);
    const creds = new Map<ScramMechanism, ScramCredential>();
    for (const [mechanism, c] of Object.entries(entry as Record<string, unknown>)) {
      if (!isScramMechanism(mechanism)) throw bad(`user ${JSON.stringify(name)} has an unknown mechanism ${JSON.stringify(mechanism)}`);
      creds.set(mechanism, credentialOf(c, () => bad(`user ${JSON.stringify(name)}'s ${mechanism} entry is malformed`)));
    }
    users.set(name, creds);
  }
  return { secret: Buffer.from(o.secret, 'base64'), users };
}

function credentialOf(c: unknown, bad: () => SluiceError): ScramCredential {
  const e = c as Record<string, unknown> | null;
  if (e === null || typeof e !== 'object') throw bad();
  const { salt, iterations, storedKey, serverKey } = e;
  if (typeof salt !== 'string' || typeof storedKey !== 'string' || typeof serverKey !== 'string') throw bad();
  if (typeof iterations !== 'number' || !Number.isInteger(iterations) || iterations < SCRAM_ITERATIONS_MIN || iterations > SCRAM_ITERATIONS_MAX) throw bad();
  return { salt: Buffer.from(salt, 'base64'), iterations, storedKey: Buffer.from(storedKey, 'base64'), serverKey: Buffer.from(serverKey, 'base64') };
}

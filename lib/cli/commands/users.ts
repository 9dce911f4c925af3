/**
 * `sluice users add|remove|list`: the SASL users of a data directory (kafka/security/
 * credential-store.ts). They edit `<dir>/security/users.json` directly, never opening the broker,
 * so they work beside a running `sluice serve`, which sees the change at its next authentication.
 * Passwords are never stored, only SCRAM credentials derived from them.
 */
import { type Command, InvalidArgumentError } from 'commander';
import { addUser, listUsers, removeUser } from '../../kafka/security/credential-store';
import { isScramMechanism, SCRAM_ITERATIONS_MIN, SCRAM_MECHANISMS, type ScramMechanism } from '../../kafka/security/scram-keys';
import { positiveInteger } from '../args';
import { UsageError } from '../exit-codes';
import { printJson, printTable } from '../output';

interface AddOptions {
  data: string;
  password?: string;
  passwordStdin?: boolean;
  mechanism?: ScramMechanism[];
  iterations?: number;
}

function scramMechanisms(value: string): ScramMechanism[] {
  const list = value.split(',').map((m) => m.trim().toUpperCase());
  for (const m of list) if (!isScramMechanism(m)) throw new InvalidArgumentError(`want ${SCRAM_MECHANISMS.join(' and/or ')}, comma-separated (PLAIN checks passwords against either)`);
  return list as ScramMechanism[];
}

/** The password: --password, or stdin's text without its final line break. */
async function passwordOf(o: AddOptions): Promise<string> {
  if ((o.password === undefined) === (o.passwordStdin !== true)) throw new UsageError('give the password with exactly one of --password P and --password-stdin');
  if (o.password !== undefined) return o.password;
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (text.length === 0) throw new UsageError('stdin held no password');
  return text;
}

export function usersCommand(program: Command): void {
  const users = program.command('users').description('add, remove and list the SASL users of a data directory (works beside a running serve)');
  users
    .command('add <name>')
    .description('add a user, or give an existing one a new password')
    .requiredOption('--data <dir>', 'the broker data directory')
    .option('--password <password>', 'the password (visible to other local users in the process list: prefer --password-stdin)')
    .option('--password-stdin', 'read the password from stdin (one line)')
    .option('--mechanism <list>', `the SCRAM credentials to store (default ${SCRAM_MECHANISMS.join(',')}; PLAIN checks either)`, scramMechanisms)
    .option('--iterations <n>', `PBKDF2 iterations of the SCRAM credentials (default ${SCRAM_ITERATIONS_MIN}, at least that)`, positiveInteger)
    .action(async (name: string, o: AddOptions) => {
      const existed = await addUser(o.data, name, await passwordOf(o), { mechanisms: o.mechanism, iterations: o.iterations });
      process.stdout.write(`${existed ? 'updated' : 'added'} user ${name}\n`);
    });
  users
    .command('remove <name>')
    .description('remove a user (its connections open now stay authenticated)')
    .requiredOption('--data <dir>', 'the broker data directory')
    .action(async (name: string, o: { data: string }) => {
      if (!(await removeUser(o.data, name))) throw new Error(`no user ${JSON.stringify(name)} in ${o.data}`);
      process.stdout.write(`removed user ${name}\n`);
    });
  users
    .command('list')
    .description('the users, with the SCRAM credentials stored for each (PLAIN works with either)')
    .requiredOption('--data <dir>', 'the broker data directory')
    .option('--json', 'print JSON')
    .action(async (o: { data: string; json?: boolean }) => {
      const all = await listUsers(o.data);
      if (o.json) printJson(all);
      else printTable(['USER', 'CREDENTIALS', 'ITERATIONS'], all.map((u) => [u.name, u.mechanisms.join(','), u.iterations]));
    });
}

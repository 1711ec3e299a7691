// `rexmon user add|passwd|remove|list`: edits the users file (htpasswd, bcrypt) in place, atomically, mode 0600.
// The password comes from stdin (--password-stdin) or a prompt without echo, never from the command line.
import { Command, Option } from 'commander';
import path from 'node:path';
import { openDatabase } from '../app.js';
import { AuditLog, cliRequester } from '../audit/index.js';
import { loadConfig } from '../config/load.js';
import { UsageError } from '../cli/usage.js';
import { checkUserName, hashPassword, HtpasswdError, readHtpasswd, writeHtpasswd } from './htpasswd.js';
import { Role } from './tokens.js';

interface FileOpts {
  file?: string;
  config?: string;
  dataDir?: string;
  passwordStdin?: boolean;
  role?: Role;
}

async function readPassword(fromStdin: boolean | undefined, what: string): Promise<string> {
  let pw: string;
  if (fromStdin || !process.stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const c of process.stdin) chunks.push(c as Buffer);
    pw = Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  } else pw = await prompt(`${what}: `);
  if (pw.length < 8) throw new UsageError('the password must have at least 8 characters');
  if (/[\r\n]/.test(pw)) throw new UsageError('the password must be one line');
  return pw;
}

/** Reads a line from the terminal without echoing it. */
function prompt(question: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const stdin = process.stdin;
    process.stderr.write(question);
    stdin.setRawMode(true);
    stdin.resume();
    let got = '';
    const onData = (d: Buffer) => {
      for (const ch of d.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          return resolve(got);
        }
        if (ch === '\u0003') {
          done();
          return reject(new UsageError('interrupted'));
        }
        if (ch === '\u007f') got = got.slice(0, -1);
        else got += ch;
      }
    };
    const done = () => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    stdin.on('data', onData);
  });
}

/** The users file: --file, else auth.users.file of the config (relative to its dataDir). */
function target(o: FileOpts): { file: string; config?: ReturnType<typeof loadConfig> } {
  if (o.file) return { file: path.resolve(o.file), config: o.config ? loadConfig(o.config, { dataDir: o.dataDir }) : undefined };
  const config = loadConfig(o.config, { dataDir: o.dataDir });
  if (!config.auth.users) throw new UsageError('no users file: give --file, or a config (-c) with auth.users.file');
  return { file: path.resolve(config.dataDir, config.auth.users.file), config };
}

/** With a config, the change goes into its audit log as well (the collector also logs what it sees change). */
async function audit(config: ReturnType<typeof loadConfig> | undefined, action: string, user: string, details: Record<string, unknown>) {
  if (!config) return;
  const db = await openDatabase(config);
  try {
    await new AuditLog(db).record({ ...cliRequester(), action, target: `user ${user}`, details });
  } finally {
    await db.destroy();
  }
}

const fileOptions = (cmd: Command) =>
  cmd
    .option('-f, --file <file>', 'htpasswd file (default: auth.users.file of the config)')
    .option('-c, --config <file>', 'config file (for auth.users.file, and the audit log)')
    .option('-d, --data-dir <dir>', 'data directory');

export function userCommands(program: Command): void {
  const user = program.command('user').description("people's logins (HTTP Basic): the users file, bcrypt as htpasswd -B writes it");
  const role = () => new Option('--role <role>', 'viewer, editor or admin').choices(['viewer', 'editor', 'admin']);
  const run = (fn: (name: string, o: FileOpts) => Promise<void>) => async (name: string, o: FileOpts) => {
    try {
      checkUserName(name);
      await fn(name, o);
    } catch (e) {
      if (e instanceof HtpasswdError) throw new UsageError(e.message);
      throw e;
    }
  };

  fileOptions(user.command('add').description('add a user (the file is made if missing)').argument('<name>'))
    .addOption(role().makeOptionMandatory())
    .option('--password-stdin', 'read the password from stdin (else a prompt)')
    .action(
      run(async (name, o) => {
        const { file, config } = target(o);
        const users = readHtpasswd(file, true);
        if (users.has(name)) throw new UsageError(`user ${JSON.stringify(name)} exists in ${file}; use rexmon user passwd`);
        users.set(name, { name, hash: await hashPassword(await readPassword(o.passwordStdin, `password for ${name}`)), role: o.role });
        writeHtpasswd(file, users.values());
        await audit(config, 'user.add', name, { role: o.role, file });
        console.log(`added ${name} (${o.role}) to ${file}`);
      }),
    );

  fileOptions(user.command('passwd').description("set a user's password (and role, with --role)").argument('<name>'))
    .addOption(role())
    .option('--password-stdin', 'read the password from stdin (else a prompt)')
    .action(
      run(async (name, o) => {
        const { file, config } = target(o);
        const users = readHtpasswd(file);
        const u = users.get(name);
        if (!u) throw new UsageError(`no user ${JSON.stringify(name)} in ${file}`);
        users.set(name, { name, hash: await hashPassword(await readPassword(o.passwordStdin, `new password for ${name}`)), role: o.role ?? u.role });
        writeHtpasswd(file, users.values());
        await audit(config, 'user.passwd', name, { file, ...(o.role ? { role: o.role } : {}) });
        console.log(`changed the password of ${name} in ${file}`);
      }),
    );

  fileOptions(user.command('remove').description('remove a user').argument('<name>')).action(
    run(async (name, o) => {
      const { file, config } = target(o);
      const users = readHtpasswd(file);
      if (!users.delete(name)) throw new UsageError(`no user ${JSON.stringify(name)} in ${file}`);
      writeHtpasswd(file, users.values());
      await audit(config, 'user.remove', name, { file });
      console.log(`removed ${name} from ${file}`);
    }),
  );

  fileOptions(user.command('list').description('list users and roles (no hashes)')).action(async (o: FileOpts) => {
    const { file, config } = target(o);
    const def = config?.auth.users?.defaultRole ?? 'viewer';
    try {
      for (const u of readHtpasswd(file).values()) console.log(`${u.name}\t${u.role ?? `${def} (default)`}`);
    } catch (e) {
      throw e instanceof HtpasswdError ? new UsageError(e.message) : e;
    }
  });
}

import { ConfigError, loadConfig } from '../config.js';
import { AppError } from '../contracts/errors.js';
import { processIo, UsageError, type CliIo } from './cli-io.js';

const usage = `safekeep — keeps a website's data collections safe

Usage:
  safekeep serve [--no-worker]                     start the server (what npm start runs); --no-worker
                                                   serves HTTP only and leaves jobs to \`safekeep worker\`
  safekeep worker                                  run jobs, schedules, GC and webhooks; serve no HTTP
  safekeep key create --admin --local [--json]     an admin key written straight to the data directory:
                                                   works with no server (first setup, lost key)

  Talking to a running server through its API (--url URL, --key KEY, --ca FILE for https://; defaults
  SAFEKEEP_URL or http://127.0.0.1:$PORT, SAFEKEEP_API_KEY, SAFEKEEP_CA_FILE):
  safekeep site create --name NAME [--json]        a site and an API key with every site scope
  safekeep site list|delete|settings …             (safekeep site help; delete asks, or --yes)
  safekeep key create --site ID --scopes a,b [--json]
  safekeep key create --admin [--json]             a key for every site
  safekeep key list [--json] | key revoke KEY_ID
  safekeep webhook create|list|delete|public-key … (safekeep webhook help)

  The Backups API (also --site SITE_ID, default SAFEKEEP_SITE_ID):
  safekeep backup create [--collections a,b] [--wait] [--json]
  safekeep backup list [--status S]... [--type T]... [--limit N] [--offset N] [--json]
  safekeep backup get ID [--json]
  safekeep backup delete ID [--yes]
  safekeep backup cancel ID
  safekeep backup restore ID [--collections a,b] [--to a:a2[:Display name],b:b2] [--definitions merge|backup]
                             [--yes] [--wait] [--json]
  safekeep restoration list [--status S]... [--json]
  safekeep restoration get ID [--json]
  safekeep collection deleted [--json]             deleted collections that can still be restored
  safekeep collection restore ID [--json]          bring a deleted collection back whole
  safekeep restoration undo ID [--yes] [--wait] [--json]   restore its safety backup
  IDs may be shortened to their first characters (at least 4) when only one id starts with them.
  restore, undo and delete ask on a terminal before they replace or delete anything; elsewhere they
  need --yes.

Configuration comes from the environment (PORT, HOST, SAFEKEEP_DATA_DIR, ...; see README.md).
Exit codes: 0 done, 1 the server refused (or a --wait job ended FAILED or CANCELED), 2 a usage mistake.`;

export async function main(argv: string[], io: CliIo = processIo): Promise<number> {
  const [command, ...args] = argv;
  try {
    if (!command || command === 'help' || command === '--help' || command === '-h') {
      io.out(usage);
      return command ? 0 : 2;
    }
    // The server's configuration is read only by the commands that open storage: the client commands
    // (backup, restoration) read theirs in loadClientConfig, so a server setting never blocks them.
    const config = () => loadConfig();
    switch (command) {
      // Commands load their modules on demand, so `safekeep site list` does not load the HTTP server.
      case 'serve':
        await (await import('./commands/serve.js')).serve(config(), args, io);
        return 0;
      case 'worker':
        if (args.length > 0)
          throw new UsageError(`safekeep worker takes no arguments, not "${args.join(' ')}"`);
        await (await import('./commands/worker.js')).worker(config(), io);
        return 0;
      case 'site':
        return await (await import('./commands/admin-commands.js')).siteCommand(args, io);
      case 'key':
        return await (
          await import('./commands/admin-commands.js')
        ).keyCommand(args, io, { serverConfig: config });
      case 'webhook':
        return await (await import('./commands/admin-commands.js')).webhookCommand(args, io);
      case 'backup':
        return await (await import('./commands/backup-commands.js')).backupCommand(args, io);
      case 'restoration':
        return await (await import('./commands/backup-commands.js')).restorationCommand(args, io);
      case 'collection':
        return await (await import('./commands/collection-commands.js')).collectionCommand(args, io);
      default:
        throw new UsageError(`unknown command "${command}"\n\n${usage}`);
    }
  } catch (error) {
    if (
      error instanceof UsageError ||
      (error instanceof TypeError && 'code' in error && String(error.code).startsWith('ERR_PARSE_ARGS'))
    ) {
      io.err(error.message);
      return 2;
    }
    if (error instanceof ConfigError) {
      io.err(error.message);
      return 2;
    }
    if (error instanceof AppError) {
      io.err(`error: ${error.message}`);
      return 1;
    }
    io.err(`error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return 1;
  }
}

import { loadClientConfig, type ClientConfig } from '../config.js';
import { SafekeepClient } from '../sdk/index.js';
import { fetchTrusting } from './fetch-trusting.js';
import { reportClientError } from './client-errors.js';
import type { CliIo } from './cli-io.js';

/** The connection flags of the commands that act on one site's data. */
export interface SiteClientFlags {
  readonly url?: string | undefined;
  readonly key?: string | undefined;
  readonly site?: string | undefined;
  readonly ca?: string | undefined;
}

/** The client a command's configuration describes (trusting its `--ca` for https:// when given). */
export function clientOf(config: ClientConfig, siteId: string | undefined = config.siteId): SafekeepClient {
  return new SafekeepClient({
    baseUrl: config.url,
    apiKey: config.apiKey,
    siteId,
    ...(config.ca && { fetch: fetchTrusting(config.ca) }),
  });
}

/**
 * Builds the site-scoped client from flags and environment (`--url`, `--key`, `--site`, `--ca`; SAFEKEEP_URL,
 * SAFEKEEP_API_KEY, SAFEKEEP_SITE_ID, SAFEKEEP_CA_FILE), runs the command, and turns API and connection errors into exit
 * code 1 with the server's message.
 * @throws ConfigError (exit 2), and whatever `run` throws that is not an API or connection error
 */
export async function withSiteClient(
  flags: SiteClientFlags,
  io: CliIo,
  env: NodeJS.ProcessEnv | undefined,
  run: (client: SafekeepClient) => Promise<number>,
): Promise<number> {
  const config = loadClientConfig(env, {
    url: flags.url,
    apiKey: flags.key,
    siteId: flags.site,
    ca: flags.ca,
  });
  const client = clientOf(config);
  try {
    return await run(client);
  } catch (error) {
    const code = reportClientError(error, io);
    if (code !== undefined) return code;
    throw error;
  }
}

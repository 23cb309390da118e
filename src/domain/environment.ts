/** The two item sets of every collection. Backups see only LIVE. */
export type Environment = 'LIVE' | 'SANDBOX';

/** What a request may name: `SANDBOX_PREFERRED` reads the sandbox, which every collection here has. */
export type RequestedEnvironment = Environment | 'SANDBOX_PREFERRED';

export function resolveEnvironment(requested: RequestedEnvironment | undefined): Environment {
  return requested === 'SANDBOX' || requested === 'SANDBOX_PREFERRED' ? 'SANDBOX' : 'LIVE';
}

/**
 * A worker process for the crash-point tests' real exits: it starts as `safekeep worker` does (start-up
 * cleanup), runs every claimable job, then one garbage collection, and exits. SAFEKEEP_FAILPOINT=name:n in
 * its environment makes it SIGKILL itself at that point (src/app/composition-root.ts).
 */
import { cleanUpAfterCrash, openSafekeep } from '../../src/app/composition-root.js';
import { loadConfig } from '../../src/config.js';

const safekeep = await openSafekeep(loadConfig(process.env));
await cleanUpAfterCrash(safekeep);
const { worker, gc } = safekeep.background();
while (await worker.runOne(new AbortController().signal));
await gc.collectAll();
await safekeep.close();
console.log('crash-child: finished without reaching its failpoint');

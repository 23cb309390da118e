/**
 * Issue 13, item 4: one error's body does not depend on which layer threw it. A missing collection is found
 * missing by the collection service (read, delete), by the collection store (an update, which the service
 * passes straight on) and by the item store (a write); each answers the same 404 body.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestEnv, type TestEnv } from '../helpers/harness.js';

const P = '/wix-data/v2';

describe('one body per error code, whichever layer throws it', () => {
  let env: TestEnv;
  let call: (method: string, path: string, body?: unknown) => ReturnType<TestEnv['call']>;

  before(async () => {
    env = await startTestEnv();
    const site = await env.createSite();
    call = (method, path, body) => env.call(method, path, { key: site.apiKey, body });
  });
  after(async () => {
    await env?.close();
  });

  it('answers WDE0025 with the same message and data from the service and both stores', async () => {
    const answers = {
      'read (service)': await call('GET', `${P}/collections/Nope`),
      'delete (service)': await call('DELETE', `${P}/collections/Nope`),
      'update (collection store)': await call('PUT', `${P}/collections`, {
        collection: { id: 'Nope', fields: [], revision: '1' },
      }),
      'insert (item store)': await call('POST', `${P}/items`, {
        dataCollectionId: 'Nope',
        dataItem: { id: 'a', data: {} },
      }),
    };
    const expected = {
      message: 'Collection Nope does not exist.',
      details: {
        applicationError: {
          code: 'WDE0025',
          description: 'Collection Nope does not exist.',
          data: { dataCollectionId: 'Nope' },
        },
      },
    };
    for (const [layer, response] of Object.entries(answers)) {
      assert.equal(response.status, 404, `${layer}: ${response.text}`);
      assert.deepEqual(response.body, expected, layer);
    }
  });
});

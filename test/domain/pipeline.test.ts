/**
 * The aggregation pipeline's evaluator (src/domain/query/pipeline.ts) on its own: it pulls only what it
 * needs from its input, and refuses, naming the stage, to hold more than MAX_HELD results.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AppError } from '../../src/contracts/errors.js';
import { MAX_HELD, parseStages, runPipeline, type Doc } from '../../src/domain/query/pipeline.js';

/** `n` documents, counting how many were pulled. */
function source(n: number, pulled: { count: number }): AsyncIterable<Doc> {
  return {
    async *[Symbol.asyncIterator]() {
      for (let i = 0; i < n; i++) {
        // As the item stream does, a pause now and then between pages.
        if (i % 1000 === 0) await Promise.resolve();
        pulled.count += 1;
        yield { _id: `d${i}`, i, g: i % 3 };
      }
    },
  };
}

async function all(stream: AsyncIterable<Doc>): Promise<Doc[]> {
  const out: Doc[] = [];
  for await (const doc of stream) out.push(doc);
  return out;
}

describe('the pipeline evaluator', () => {
  it('stops reading its input once a limit is reached', async () => {
    const pulled = { count: 0 };
    const stages = parseStages([{ filter: { g: 1 } }, { limit: 5 }]);
    const out = await all(runPipeline(stages, source(1_000_000, pulled)));
    assert.deepEqual(
      out.map((d) => d.i),
      [1, 4, 7, 10, 13],
    );
    assert.equal(pulled.count, 14, 'the input is read only up to the fifth match');
  });

  it('holds at most MAX_HELD groups, then refuses naming the stage', async () => {
    const stages = parseStages([
      { skip: 0 },
      { group: { groupIds: [{ key: 'i', expression: { fieldPath: 'i' } }], accumulators: [] } },
    ]);
    const error = await all(runPipeline(stages, source(MAX_HELD + 1, { count: 0 }))).then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof AppError);
    assert.equal(error.code, 'INVALID_ARGUMENT');
    assert.equal(error.violations[0]?.field, 'pipeline.stages[1]');
    assert.match(error.message, /group stage would hold more than 100000/);
  });

  it('holds at most MAX_HELD rows to sort', async () => {
    const stages = parseStages([{ sort: { values: [{ fieldName: 'i', order: 'DESC' }] } }]);
    await assert.rejects(all(runPipeline(stages, source(MAX_HELD + 1, { count: 0 }))), /sort stage/);
    const sorted = await all(runPipeline(stages, source(MAX_HELD, { count: 0 })));
    assert.equal(sorted[0]?.i, MAX_HELD - 1);
  });
});

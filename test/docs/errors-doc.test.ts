import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { errorRegistry } from '../../src/contracts/errors.js';
import { statusOfCategory } from '../../src/http/error-response.js';

describe('docs/ERRORS.md', () => {
  it('lists every registered error code with its HTTP status, and nothing else', () => {
    const rows = readFileSync('docs/ERRORS.md', 'utf8')
      .split('\n')
      .map((line) => /^\| `([A-Z0-9_]+)` \| (\d{3}|—) \|/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null)
      .map((m) => [m[1] ?? '', m[2] === '—' ? 'background' : Number(m[2])] as const);
    const documented = new Map(rows);
    assert.equal(documented.size, rows.length, 'no code is documented twice');
    for (const [code, definition] of Object.entries(errorRegistry)) {
      const expected: number | 'background' =
        definition.category === 'BACKGROUND' ? 'background' : statusOfCategory[definition.category];
      assert.equal(documented.get(code), expected, `${code} is documented with its status`);
    }
    for (const code of documented.keys()) assert.ok(code in errorRegistry, `${code} is not in the registry`);
    assert.equal(documented.size, Object.keys(errorRegistry).length);
  });
});

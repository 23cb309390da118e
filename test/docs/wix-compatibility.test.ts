/**
 * docs/WIX-COMPATIBILITY.md stays true to the installed Wix SDK modules: every function they export is
 * listed, nothing else is, and a supported (or out-of-scope) method names a test file that exists and
 * calls it.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import * as backups from '@wix/auto_sdk_data_backups';
import * as collections from '@wix/auto_sdk_data_collections';
import * as items from '@wix/wix-data-items-sdk';

const modules = {
  '@wix/wix-data-items-sdk': items,
  '@wix/auto_sdk_data_collections': collections,
  '@wix/auto_sdk_data_backups': backups,
} as const;

interface Row {
  readonly name: string;
  readonly status: string;
  readonly test: string;
}

/** The rows of each `## ... — \`package\`` section's tables: `| \`name\` | status | \`test\` |`. */
function sections(markdown: string): Map<string, Row[]> {
  const byPackage = new Map<string, Row[]>();
  let current: Row[] | undefined;
  for (const line of markdown.split('\n')) {
    const heading = /^## .*`(@wix\/[^`]+)`/.exec(line);
    if (heading) {
      current = [];
      byPackage.set(heading[1] ?? '', current);
      continue;
    }
    const row = /^\| `([A-Za-z0-9_]+)` \| ([^|]*?) *\|(?: *([^|]*?) *\|)?$/.exec(line);
    if (row && current) {
      current.push({
        name: row[1] ?? '',
        status: (row[2] ?? '').trim(),
        test: (row[3] ?? '').trim().replace(/^`|`$/g, ''),
      });
    }
  }
  return byPackage;
}

const exportedFunctions = (module: object): string[] =>
  Object.entries(module)
    .filter(([, value]) => typeof value === 'function')
    .map(([name]) => name)
    .sort();

describe('docs/WIX-COMPATIBILITY.md', () => {
  const listed = sections(readFileSync('docs/WIX-COMPATIBILITY.md', 'utf8'));

  it('has a section for each of the three SDK modules', () => {
    assert.deepEqual([...listed.keys()].sort(), Object.keys(modules).sort());
  });

  for (const [name, module] of Object.entries(modules)) {
    it(`lists every function ${name} exports, and nothing else`, () => {
      const rows = listed.get(name) ?? [];
      const names = rows.map((r) => r.name);
      assert.equal(new Set(names).size, names.length, 'no function is listed twice');
      const exported = exportedFunctions(module);
      assert.ok(exported.length > 5, `${exported.length} functions found in ${name}`);
      assert.deepEqual(
        exported.filter((f) => !names.includes(f)),
        [],
        'exported but not in the table',
      );
      assert.deepEqual(
        names.filter((f) => !exported.includes(f)),
        [],
        'in the table but not exported',
      );
    });

    it(`gives each ${name} method a status, and the supported ones a test that calls them`, () => {
      for (const row of listed.get(name) ?? []) {
        // Builder rows name what uses them, not a status.
        if (/^[A-Z]/.test(row.name)) continue;
        assert.match(row.status, /^(supported|out of scope|not yet \(issue \d+\))$/, row.name);
        if (row.status.startsWith('not yet')) continue;
        assert.match(row.test, /^test\/.+\.test\.ts$/, `${row.name} names its test`);
        assert.ok(existsSync(row.test), `${row.name}: ${row.test} exists`);
        assert.ok(
          new RegExp(`\\b${row.name}\\b`).test(readFileSync(row.test, 'utf8')),
          `${row.test} calls ${row.name}`,
        );
      }
    });
  }
});

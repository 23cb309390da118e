/** Seeded random item data with the awkward cases a backup must carry exactly. */
import { composeItem, type StoredItem } from '../../src/domain/item-codec.js';

export type Random = () => number;

const strings = [
  '',
  'plain',
  'héllo wörld',
  '日本語のテキスト',
  '🎉🚀 emoji with ZWJ 👩‍👩‍👧',
  'עברית RTL',
  'line\nbreak\ttab',
  '\u2028\u2029 separators',
  'quote " and backslash \\',
  'e\u0301 combining',
  '\ud800 lone surrogate',
  '<script>alert(1)</script>',
  "'; DROP TABLE items; --",
];

const numbers = [
  0,
  -1,
  1,
  1.5,
  0.1 + 0.2,
  1e308,
  -1e308,
  5e-324,
  Number.MAX_SAFE_INTEGER,
  -Number.MAX_SAFE_INTEGER,
  123456789.12345679,
  42,
];

export function pick<T>(random: Random, values: readonly T[]): T {
  return values[Math.floor(random() * values.length)] as T;
}

export function randomValue(random: Random, depth = 0): unknown {
  const roll = random();
  if (depth > 3 || roll < 0.25)
    return pick(random, strings) + (random() < 0.3 ? String(Math.floor(random() * 1e6)) : '');
  if (roll < 0.45) return pick(random, numbers);
  if (roll < 0.5) return random() < 0.5;
  if (roll < 0.55) return null;
  if (roll < 0.65)
    return {
      $date: new Date(
        Date.UTC(
          1990 + Math.floor(random() * 60),
          Math.floor(random() * 12),
          1 + Math.floor(random() * 28),
          0,
          0,
          0,
          Math.floor(random() * 1000),
        ),
      ).toISOString(),
    };
  if (roll < 0.8)
    return Array.from({ length: Math.floor(random() * 4) }, () => randomValue(random, depth + 1));
  const out: Record<string, unknown> = {};
  for (let i = 0; i < 1 + Math.floor(random() * 4); i++)
    out[`${pick(random, ['k', 'ключ', 'キー', 'field'])}${i}`] = randomValue(random, depth + 1);
  return out;
}

export function randomFields(random: Random): Record<string, unknown> {
  const fields: Record<string, unknown> = {};
  for (let i = 0; i < 1 + Math.floor(random() * 6); i++) fields[`f${i}`] = randomValue(random);
  return fields;
}

export function randomItem(random: Random, id: string, at: number): StoredItem {
  return composeItem({
    id,
    owner: `owner-${Math.floor(random() * 3)}`,
    createdAt: at,
    updatedAt: at + Math.floor(random() * 1e6),
    fields: randomFields(random),
  });
}

/** An item close to the 500 KB limit. */
export function bigItem(id: string, at: number): StoredItem {
  return composeItem({
    id,
    owner: 'owner',
    createdAt: at,
    updatedAt: at,
    fields: { big: 'é'.repeat(250_000), tail: 'x'.repeat(10_000) },
  });
}

export function randomId(random: Random): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_';
  let id = '';
  for (let i = 0; i < 8 + Math.floor(random() * 20); i++)
    id += alphabet[Math.floor(random() * alphabet.length)];
  return random() < 0.05 ? `${id}-ü日` : id;
}

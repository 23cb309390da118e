/**
 * Full-text search rules shared by both engines (docs/ARCHITECTURE.md, "Search"): which fields are indexed,
 * how an expression becomes terms, and the trigram similarity that approximate (`fuzzy`) matching ranks by.
 */

/** What a search asks for, once checked against the collection's definition. */
export interface TextSearch {
  /** Words of the expression, lower-cased, each at most once, in order. */
  readonly terms: readonly string[];
  /** AND: an item must match every term; OR: at least one. */
  readonly mode: 'AND' | 'OR';
  /** Also match words similar to a term (trigram similarity at least FUZZY_THRESHOLD). */
  readonly fuzzy: boolean;
  /** The declared TEXT fields searched (never empty). */
  readonly fields: readonly string[];
}

/** The most terms one expression may hold (Wix caps the expression at 100 characters). */
export const MAX_SEARCH_TERMS = 32;

/**
 * The similarity a word must reach for fuzzy matching: pg_trgm's own default for `%` (0.3). A one-letter
 * substitution in a six-letter word scores 0.4 ("hobbit"/"hobbjt"), a deletion 0.625 ("hobit").
 */
export const FUZZY_THRESHOLD = 0.3;

/**
 * Keys the index can carry: what the SQL of both engines can name as a JSON member without quoting rules
 * (a double quote, a backslash or a control character would need escaping inside a SQLite JSON path).
 */
function indexableKey(key: string): boolean {
  if (key.length === 0 || key.length > 256 || key.startsWith('_')) return false;
  for (const ch of key) if (ch === '"' || ch === '\\' || ch.charCodeAt(0) < 0x20) return false;
  return true;
}

/**
 * The fields a collection's index holds: those its definition declares with type TEXT, in declared order.
 * Only these are searchable; a collection without any pays nothing on writes.
 */
export function textFieldsOf(fields: readonly Record<string, unknown>[]): string[] {
  const keys: string[] = [];
  for (const field of fields) {
    const key = field['key'];
    if (field['type'] !== 'TEXT' || typeof key !== 'string' || !indexableKey(key)) continue;
    if (keys.includes(key)) continue;
    keys.push(key);
  }
  return keys;
}

const WORD = /[\p{L}\p{N}\p{M}]+/gu;

/** The words of a text, lower-cased: runs of letters, digits and combining marks; anything else separates. */
export function wordsOf(text: string): string[] {
  return (text.toLowerCase().match(WORD) ?? []).map((w) => w.normalize('NFC'));
}

/** The terms of an expression: its distinct words, in order (at most MAX_SEARCH_TERMS are kept by callers). */
export function searchTerms(expression: string): string[] {
  return [...new Set(wordsOf(expression))];
}

/** A word's trigrams as pg_trgm makes them: padded with two spaces before and one after. */
export function trigramsOf(word: string): Set<string> {
  const chars = [...`  ${word} `];
  const out = new Set<string>();
  for (let i = 0; i + 3 <= chars.length; i++) out.add(chars.slice(i, i + 3).join(''));
  return out;
}

/** pg_trgm's similarity of two words: shared trigrams over all trigrams of either. */
export function similarity(a: Set<string>, b: Set<string>): number {
  let shared = 0;
  for (const t of a) if (b.has(t)) shared += 1;
  const union = a.size + b.size - shared;
  return union === 0 ? 0 : shared / union;
}

/**
 * How close `term` comes to some word of `text` (the best similarity over its words): SQLite's stand-in
 * for pg_trgm's `strict_word_similarity`, which PostgreSQL computes itself.
 */
export function wordSimilarity(term: string, text: string): number {
  const wanted = trigramsOf(term.toLowerCase());
  let best = 0;
  for (const word of new Set(wordsOf(text))) {
    const s = similarity(wanted, trigramsOf(word));
    if (s > best) best = s;
    if (best === 1) break;
  }
  return best;
}

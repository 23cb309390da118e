/**
 * The search rules shared by both engines: which fields are indexed, how an expression becomes terms, and
 * SQLite's stand-in for pg_trgm's similarity (the figures are pg_trgm's: `SELECT similarity('hobbit',
 * 'hobbjt')` gives 0.4 on PostgreSQL 15).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  searchTerms,
  similarity,
  textFieldsOf,
  trigramsOf,
  wordSimilarity,
} from '../../src/domain/text-search.js';

describe('text search rules', () => {
  it('indexes the declared TEXT fields only, once each, never system fields or unquotable keys', () => {
    assert.deepEqual(
      textFieldsOf([
        { key: 'title', type: 'TEXT' },
        { key: 'year', type: 'NUMBER' },
        { key: 'body', type: 'RICH_TEXT' },
        { key: 'title', type: 'TEXT' },
        { key: '_id', type: 'TEXT' },
        { key: 'say "hi"', type: 'TEXT' },
        { key: 'a.b c', type: 'TEXT' },
        { type: 'TEXT' },
      ]),
      ['title', 'a.b c'],
    );
  });

  it('splits an expression into distinct lower-case words', () => {
    assert.deepEqual(searchTerms('  Red car, RED roof! e-mail 42x  '), [
      'red',
      'car',
      'roof',
      'e',
      'mail',
      '42x',
    ]);
    assert.deepEqual(searchTerms('?! ...'), []);
    assert.deepEqual(searchTerms('Café Ωμέγα'), ['café', 'ωμέγα']);
  });

  it('measures similarity as pg_trgm does', () => {
    assert.deepEqual([...trigramsOf('dune')], ['  d', ' du', 'dun', 'une', 'ne ']);
    assert.equal(similarity(trigramsOf('hobbit'), trigramsOf('hobbjt')), 0.4);
    assert.equal(similarity(trigramsOf('hobbit'), trigramsOf('hobbit')), 1);
    assert.equal(wordSimilarity('hobbit', 'The Hobbits, there and back'), 6 / 9);
    assert.equal(wordSimilarity('xyz', 'nothing alike'), 0);
  });
});

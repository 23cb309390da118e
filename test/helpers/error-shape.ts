import assert from 'node:assert/strict';

/** Asserts that a response body is in the spec's error shape (backups-api.md §8) and returns its code. */
export function assertErrorShape(body: unknown): string {
  assert.ok(typeof body === 'object' && body !== null, 'error body is a JSON object');
  const { message, details } = body as { message?: unknown; details?: Record<string, any> };
  assert.equal(typeof message, 'string');
  assert.ok((message as string).length > 0, 'message says what was wrong');
  assert.ok(details && typeof details === 'object', 'details present');
  if (details.applicationError) {
    const { code, description, data } = details.applicationError;
    assert.equal(typeof code, 'string');
    assert.equal(typeof description, 'string');
    assert.equal(typeof data, 'object');
    return code as string;
  }
  const violations = details.validationError?.fieldViolations;
  assert.ok(Array.isArray(violations) && violations.length > 0, 'validationError has fieldViolations');
  for (const v of violations) {
    assert.equal(typeof v.field, 'string');
    assert.equal(typeof v.description, 'string');
    assert.equal(typeof v.violatedRule, 'string');
  }
  return 'INVALID_ARGUMENT';
}

/** What a Wix SDK call's rejection says, read from the error body the SDK attaches (spec §8). */
import assert from 'node:assert/strict';

interface WixSdkError {
  details?: {
    applicationError?: { code?: string };
    validationError?: { fieldViolations?: { field?: string }[] };
  };
}

async function rejectionOf(promise: Promise<unknown>): Promise<WixSdkError> {
  try {
    await promise;
  } catch (error) {
    return error as WixSdkError;
  }
  assert.fail('expected the call to be rejected');
}

/** The application error code the SDK attached to a rejection (`NO_CODE` when there is none). */
export async function rejectionCode(promise: Promise<unknown>): Promise<string> {
  return (await rejectionOf(promise)).details?.applicationError?.code ?? 'NO_CODE';
}

/** The first field a validation rejection names (`NO_VIOLATION` when there is none). */
export async function violatedField(promise: Promise<unknown>): Promise<string> {
  return (await rejectionOf(promise)).details?.validationError?.fieldViolations?.[0]?.field ?? 'NO_VIOLATION';
}

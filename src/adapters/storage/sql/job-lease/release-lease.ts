/**
 * The column values that free a row's lease: written when a job ends (whatever its outcome) and when a
 * worker gives a claimed row back untried.
 */
export const releaseLease = { lease_owner: null, lease_expires_at: null } as const;

import type { LeaseRequest } from '../../../../ports/lease-request.js';

/** The column values that give a row's lease to the requesting worker until `now + leaseMs`. */
export function takeLease(request: LeaseRequest): { lease_owner: string; lease_expires_at: number } {
  return { lease_owner: request.workerId, lease_expires_at: request.now + request.leaseMs };
}

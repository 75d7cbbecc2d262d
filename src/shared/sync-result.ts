/**
 * What a reconcile handler tells the work queue (STYLE.md "Reconcile contract"; MetalLB's
 * SyncState):
 * - `ok`: done; the key's retry backoff is reset.
 * - `retry`: a transient failure (API conflict, timeout); the key comes back after a capped,
 *   per-key exponential backoff.
 * - `reprocessAll`: something global changed (a new config was accepted); every key is
 *   enqueued again.
 * - `giveUp`: a permanent failure already reported (Event, log); the key is dropped until
 *   something changes and enqueues it again.
 */
export type SyncResult = 'ok' | 'retry' | 'reprocessAll' | 'giveUp';

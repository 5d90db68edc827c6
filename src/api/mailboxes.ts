/**
 * This identity's mailboxes as the API takes them: libp2p peer ids, each in its canonical form
 * (`12D3KooW…`; a CID form such as `bafz…` is the same peer), distinct, at most MAX_MAILBOXES (the
 * schema checks the count). A bad one is ApiError INVALID_PEER_ID naming its place in the list,
 * without echoing it.
 */
import { peerIdFromString } from '@libp2p/peer-id';
import { ApiError } from './errors.js';

/** Canonical peer ids of `values`; `field` names the list in errors (`body.peers` → `body.peers.2`). */
export function parsePeerIds(values: readonly string[], field: string): string[] {
  const out: string[] = [];
  values.forEach((value, i) => {
    const at = `${field}.${i}`;
    let id: string;
    try {
      id = peerIdFromString(value.trim()).toString();
    } catch {
      throw new ApiError('INVALID_PEER_ID', `${at}: not a libp2p peer id`, { field: at });
    }
    const first = out.indexOf(id);
    if (first !== -1) {
      throw new ApiError('INVALID_REQUEST', `${at}: the same peer as ${field}.${first}`, { field: at });
    }
    out.push(id);
  });
  return out;
}

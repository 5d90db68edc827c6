/**
 * The plaintext of a session message between sotto nodes (protocols/content/SPEC.md): a text a person
 * wrote, or a delivery / read receipt for messages of the other side. Encoded with the codec
 * generated from protocols/content/content.proto; decoding checks every field and returns a typed
 * value or throws ContentError — a peer's malformed content never reaches the app.
 */
import { Content as PbContent, Receipt as PbReceipt } from '../protocols/content/pb/content.js';

/** Longest message text accepted by `send` (UTF-8 bytes); the wire body limit is larger. */
export const MAX_TEXT_BYTES = 32 * 1024;
/** Most message ids in one receipt (a bigger set goes in several receipts). */
export const MAX_RECEIPT_IDS = 256;
/** A message id: 16 random bytes. */
export const MESSAGE_ID_BYTES = 16;

export type ReceiptKind = 'delivered' | 'read';

export type Content = { type: 'text'; text: string } | { type: 'receipt'; kind: ReceiptKind; ids: Uint8Array[] };

/** Content that breaks protocols/content/SPEC.md. `reason` is a short code for an Ack reason. */
export class ContentError extends Error {
  constructor(
    readonly reason: 'malformed-content' | 'not-utf8' | 'empty-text' | 'text-too-large' | 'bad-receipt',
    message: string,
  ) {
    super(message);
    this.name = 'ContentError';
  }
}

const utf8 = new TextEncoder();
const strictUtf8 = new TextDecoder('utf-8', { fatal: true });

const KIND_TO_PB: Record<ReceiptKind, PbReceipt.Kind> = {
  delivered: PbReceipt.Kind.DELIVERED,
  read: PbReceipt.Kind.READ,
};

function checkReceiptIds(ids: readonly Uint8Array[]): void {
  if (ids.length === 0 || ids.length > MAX_RECEIPT_IDS) {
    throw new ContentError('bad-receipt', `a receipt names 1..${MAX_RECEIPT_IDS} message ids`);
  }
  for (const id of ids) {
    if (!(id instanceof Uint8Array) || id.byteLength !== MESSAGE_ID_BYTES) {
      throw new ContentError('bad-receipt', `a message id is ${MESSAGE_ID_BYTES} bytes`);
    }
  }
}

export function encodeText(text: string): Uint8Array {
  const bytes = utf8.encode(text);
  if (bytes.byteLength === 0) throw new ContentError('empty-text', 'a message is at least one byte of UTF-8');
  if (bytes.byteLength > MAX_TEXT_BYTES) {
    throw new ContentError('text-too-large', `a message is at most ${MAX_TEXT_BYTES} bytes of UTF-8`);
  }
  return PbContent.encode({ text: { text: bytes } });
}

export function encodeReceipt(kind: ReceiptKind, ids: readonly Uint8Array[]): Uint8Array {
  checkReceiptIds(ids);
  return PbContent.encode({ receipt: { kind: KIND_TO_PB[kind], ids: ids.map((id) => Uint8Array.from(id)) } });
}

/** Decodes and checks a plaintext; throws ContentError. */
export function decodeContent(plaintext: Uint8Array): Content {
  let pb: PbContent;
  try {
    pb = PbContent.decode(plaintext, { limits: { receipt: { ids: MAX_RECEIPT_IDS } } });
  } catch {
    throw new ContentError('malformed-content', 'content is not a valid Content protobuf');
  }
  if (pb.text !== undefined && pb.receipt === undefined) {
    const bytes = pb.text.text;
    if (bytes.byteLength === 0) throw new ContentError('empty-text', 'empty text');
    if (bytes.byteLength > MAX_TEXT_BYTES) throw new ContentError('text-too-large', 'text above MAX_TEXT_BYTES');
    try {
      return { type: 'text', text: strictUtf8.decode(bytes) };
    } catch {
      throw new ContentError('not-utf8', 'text is not UTF-8');
    }
  }
  if (pb.receipt !== undefined && pb.text === undefined) {
    const kind =
      pb.receipt.kind === PbReceipt.Kind.DELIVERED
        ? 'delivered'
        : pb.receipt.kind === PbReceipt.Kind.READ
          ? 'read'
          : null;
    if (kind === null) throw new ContentError('bad-receipt', 'unknown receipt kind');
    checkReceiptIds(pb.receipt.ids);
    return { type: 'receipt', kind, ids: pb.receipt.ids };
  }
  throw new ContentError('malformed-content', 'content must carry exactly one of text, receipt');
}

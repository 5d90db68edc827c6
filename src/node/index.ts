export { ContentError, MAX_RECEIPT_IDS, MAX_TEXT_BYTES, type ReceiptKind } from './content.js';
export * from './errors.js';
export * from './mailbox.js';
export * from './node.js';

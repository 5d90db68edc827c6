/** Typed errors of identities, addresses and device bindings (house style: src/crypto/errors.ts). */

export type IdentityErrorCode = 'INVALID_ADDRESS' | 'BAD_DEVICE_BINDING';

export class IdentityError extends Error {
  readonly code: IdentityErrorCode;
  constructor(code: IdentityErrorCode, message: string) {
    super(message);
    this.code = code;
    this.name = 'IdentityError';
  }
}

/** A pasted address that does not decode: wrong prefix, bad characters, or a checksum mismatch. */
export class InvalidAddressError extends IdentityError {
  /** Why, as a short stable word: 'format' | 'checksum' | 'prefix' | 'version' | 'length'. */
  readonly reason: 'format' | 'checksum' | 'prefix' | 'version' | 'length';
  constructor(reason: InvalidAddressError['reason'], message: string) {
    super('INVALID_ADDRESS', message);
    this.name = 'InvalidAddressError';
    this.reason = reason;
  }
}

/** A device binding whose signature, identity or peer id does not check out. */
export class BadDeviceBindingError extends IdentityError {
  constructor(message: string) {
    super('BAD_DEVICE_BINDING', message);
    this.name = 'BadDeviceBindingError';
  }
}

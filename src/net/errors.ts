/**
 * Typed errors of the transport layer. Every failure has its own class with a stable `code`;
 * callers match on `code` (or `instanceof`), never on message text. Messages carry no key material
 * and no record values.
 */

/** Stable error codes. Adding one is fine; renaming one is a breaking change. */
export type SottoNetErrorCode =
  | 'NET_CONFIG_INVALID'
  | 'HOST_ASSEMBLY_FAILED'
  | 'PEER_KEY_CORRUPT'
  | 'PEER_KEY_WRONG_TYPE'
  | 'DHT_NAMESPACE_INVALID'
  | 'DHT_NO_VALIDATOR'
  | 'DHT_RECORD_INVALID'
  | 'DHT_RECORD_MALFORMED'
  | 'DHT_RECORD_NOT_FOUND'
  | 'DHT_RECORD_STALE'
  | 'DHT_TIMEOUT'
  | 'MESSAGE_TOO_LARGE'
  | 'NOISE_FRAME_INVALID'
  | 'RELAY_STOP_UNEXPECTED';

export class SottoNetError extends Error {
  readonly code: SottoNetErrorCode;
  constructor(code: SottoNetErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'SottoNetError';
  }
}

/** What exactly was wrong with a config field. */
export type NetConfigProblem =
  | 'UNKNOWN_KEY'
  | 'WRONG_TYPE'
  | 'BAD_MULTIADDR'
  | 'UNSUPPORTED_LISTEN_ADDRESS'
  | 'MISSING_PEER_ID'
  | 'OUT_OF_RANGE'
  | 'BAD_VALUE'
  | 'PRIVATE_ADDRESS_NOT_ALLOWED';

/** The network config failed validation. `field` is the path of the offending field, e.g. `bootstrap[1]`. */
export class NetConfigError extends SottoNetError {
  readonly field: string;
  readonly problem: NetConfigProblem;
  constructor(field: string, problem: NetConfigProblem, message: string) {
    super('NET_CONFIG_INVALID', `${field}: ${message}`);
    this.name = 'NetConfigError';
    this.field = field;
    this.problem = problem;
  }
}

/** The peer key file exists but does not decode as a libp2p protobuf private key. It is left untouched. */
export class PeerKeyCorruptError extends SottoNetError {
  readonly path: string;
  constructor(path: string, options?: { cause?: unknown }) {
    super('PEER_KEY_CORRUPT', `peer key file ${path} is not a valid libp2p private key`, options);
    this.name = 'PeerKeyCorruptError';
    this.path = path;
  }
}

/** The peer key file holds a valid key of a type other than Ed25519. It is left untouched. */
export class PeerKeyWrongTypeError extends SottoNetError {
  readonly path: string;
  readonly keyType: string;
  constructor(path: string, keyType: string) {
    super('PEER_KEY_WRONG_TYPE', `peer key file ${path} holds a ${keyType} key, expected Ed25519`);
    this.name = 'PeerKeyWrongTypeError';
    this.path = path;
    this.keyType = keyType;
  }
}

/** No validator is configured for a DHT key's namespace (kad-dht would refuse or ignore it). */
export class NoValidatorError extends SottoNetError {
  readonly namespace: string;
  constructor(namespace: string) {
    super('DHT_NO_VALIDATOR', `no DHT validator for namespace "${namespace}"`);
    this.name = 'NoValidatorError';
    this.namespace = namespace;
  }
}

/** A record failed its validator; it was neither stored nor sent. */
export class RecordValidationError extends SottoNetError {
  constructor(options?: { cause?: unknown }) {
    super('DHT_RECORD_INVALID', 'DHT record failed validation', options);
    this.name = 'RecordValidationError';
  }
}

/** The DHT query finished without finding a valid record for the key. */
export class RecordNotFoundError extends SottoNetError {
  constructor() {
    super('DHT_RECORD_NOT_FOUND', 'no valid DHT record found for key');
    this.name = 'RecordNotFoundError';
  }
}

/** A DHT operation ran out of time before it produced any result. */
export class DhtTimeoutError extends SottoNetError {
  readonly timeoutMs: number;
  constructor(operation: 'get' | 'put', timeoutMs: number) {
    super('DHT_TIMEOUT', `DHT ${operation} timed out after ${timeoutMs} ms`);
    this.name = 'DhtTimeoutError';
    this.timeoutMs = timeoutMs;
  }
}

/**
 * A peer announced a message above its protocol's limit on a guarded stream (src/net/frame-guard.ts:
 * `MAX_DHT_MESSAGE_BYTES`, `MAX_RELAY_MESSAGE_BYTES`): the stream is aborted before the message is
 * read. A protocol violation (it counts towards a ban).
 */
export class MessageTooLargeError extends SottoNetError {
  static readonly code = 'MESSAGE_TOO_LARGE';
  readonly protocol: string;
  readonly maxBytes: number;
  constructor(protocol: string, maxBytes: number) {
    super('MESSAGE_TOO_LARGE', `${protocol} message larger than ${maxBytes} bytes`);
    this.name = 'MessageTooLargeError';
    this.protocol = protocol;
    this.maxBytes = maxBytes;
  }
}

/**
 * A peer we hold no relay reservation on opened a circuit relay STOP stream to us (it claimed to
 * relay a dial to us): the stream is aborted unread (src/net/relay-stop-guard.ts). Not counted as
 * a violation: a relay holding an old reservation of ours after our restart does it in good faith.
 */
export class UnexpectedRelayStopError extends SottoNetError {
  static readonly code = 'RELAY_STOP_UNEXPECTED';
  readonly relay: string;
  constructor(relay: string) {
    super('RELAY_STOP_UNEXPECTED', `relay STOP stream from ${relay}, on which we hold no reservation`);
    this.name = 'UnexpectedRelayStopError';
    this.relay = relay;
  }
}

/** The validators/selectors handed to the host do not fit kad-dht's namespace rules. */
export class InvalidDhtNamespaceError extends SottoNetError {
  readonly namespace: string;
  constructor(namespace: string, reason: string) {
    super('DHT_NAMESPACE_INVALID', `DHT namespace "${namespace}": ${reason}`);
    this.name = 'InvalidDhtNamespaceError';
    this.namespace = namespace;
  }
}

/** The DHT already holds a record for this key that the selector prefers (a rollback or a stale republish). */
export class StaleRecordError extends SottoNetError {
  constructor() {
    super('DHT_RECORD_STALE', 'a better record for this key is already stored');
    this.name = 'StaleRecordError';
  }
}

/** Bytes stored or offered as a DHT record are not a libp2p `Record` protobuf. */
export class MalformedDhtRecordError extends SottoNetError {
  constructor(cause: unknown) {
    super('DHT_RECORD_MALFORMED', 'not a DHT record', { cause });
    this.name = 'MalformedDhtRecordError';
  }
}

/** libp2p did not expose what the host needs to assemble itself (a dependency changed shape). */
export class HostAssemblyError extends SottoNetError {
  constructor(message: string) {
    super('HOST_ASSEMBLY_FAILED', message);
    this.name = 'HostAssemblyError';
  }
}

/**
 * A Noise transport frame failed ChaCha20-Poly1305 authentication (tampered, truncated or out of
 * step). Noise aborts the connection on it.
 */
export class NoiseDecryptError extends SottoNetError {
  constructor(message: string) {
    super('NOISE_FRAME_INVALID', message);
    this.name = 'NoiseDecryptError';
  }
}

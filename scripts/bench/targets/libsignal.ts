/**
 * Baseline: @signalapp/libsignal-client (Rust through N-API), PQXDH with a Kyber prekey (mandatory
 * in current versions) and the Double Ratchet. The stores are minimal in-memory maps holding the
 * native record objects: no serialization per call, so the figures are libsignal's own cost plus
 * its async store bridge, not a database's.
 */
import {
  CiphertextMessageType,
  type Direction,
  IdentityChange,
  IdentityKeyPair,
  IdentityKeyStore,
  KEMKeyPair,
  KyberPreKeyRecord,
  KyberPreKeyStore,
  PreKeyBundle,
  PreKeyRecord,
  PreKeySignalMessage,
  PreKeyStore,
  PrivateKey,
  ProtocolAddress,
  type PublicKey,
  processPreKeyBundle,
  SessionRecord,
  SessionStore,
  SignalMessage,
  SignedPreKeyRecord,
  SignedPreKeyStore,
  signalDecrypt,
  signalDecryptPreKey,
  signalEncrypt,
} from '@signalapp/libsignal-client';
import { packageVersion } from '../lib.js';
import type { BenchTarget, Handshake, Pair } from './types.js';

/** libsignal's wire message: the type tag travels beside the bytes (as in Signal's envelope). */
interface LibsignalCiphertext {
  type: CiphertextMessageType;
  bytes: Uint8Array<ArrayBuffer>;
}

class MemorySessionStore extends SessionStore {
  private readonly sessions = new Map<string, SessionRecord>();
  async saveSession(name: ProtocolAddress, record: SessionRecord): Promise<void> {
    this.sessions.set(name.toString(), record);
  }
  async getSession(name: ProtocolAddress): Promise<SessionRecord | null> {
    return this.sessions.get(name.toString()) ?? null;
  }
  async getExistingSessions(addresses: ProtocolAddress[]): Promise<SessionRecord[]> {
    return addresses.map((address) => {
      const record = this.sessions.get(address.toString());
      if (!record) throw new Error(`no session for ${address.toString()}`);
      return record;
    });
  }
}

class MemoryIdentityStore extends IdentityKeyStore {
  private readonly identities = new Map<string, PublicKey>();
  constructor(
    private readonly identity: IdentityKeyPair,
    private readonly registrationId: number,
  ) {
    super();
  }
  async getIdentityKey(): Promise<PrivateKey> {
    return this.identity.privateKey;
  }
  override async getIdentityKeyPair(): Promise<IdentityKeyPair> {
    return this.identity;
  }
  async getLocalRegistrationId(): Promise<number> {
    return this.registrationId;
  }
  async saveIdentity(name: ProtocolAddress, key: PublicKey): Promise<IdentityChange> {
    const existing = this.identities.get(name.toString());
    this.identities.set(name.toString(), key);
    return existing && !existing.equals(key) ? IdentityChange.ReplacedExisting : IdentityChange.NewOrUnchanged;
  }
  async isTrustedIdentity(name: ProtocolAddress, key: PublicKey, _direction: Direction): Promise<boolean> {
    const existing = this.identities.get(name.toString());
    return existing === undefined || existing.equals(key); // trust on first use
  }
  async getIdentity(name: ProtocolAddress): Promise<PublicKey | null> {
    return this.identities.get(name.toString()) ?? null;
  }
}

class MemoryPreKeyStore extends PreKeyStore {
  private readonly records = new Map<number, PreKeyRecord>();
  async savePreKey(id: number, record: PreKeyRecord): Promise<void> {
    this.records.set(id, record);
  }
  async getPreKey(id: number): Promise<PreKeyRecord> {
    const record = this.records.get(id);
    if (!record) throw new Error(`no prekey ${id}`);
    return record;
  }
  async removePreKey(id: number): Promise<void> {
    this.records.delete(id);
  }
}

class MemorySignedPreKeyStore extends SignedPreKeyStore {
  private readonly records = new Map<number, SignedPreKeyRecord>();
  async saveSignedPreKey(id: number, record: SignedPreKeyRecord): Promise<void> {
    this.records.set(id, record);
  }
  async getSignedPreKey(id: number): Promise<SignedPreKeyRecord> {
    const record = this.records.get(id);
    if (!record) throw new Error(`no signed prekey ${id}`);
    return record;
  }
}

class MemoryKyberPreKeyStore extends KyberPreKeyStore {
  private readonly records = new Map<number, KyberPreKeyRecord>();
  private readonly used = new Set<number>();
  async saveKyberPreKey(id: number, record: KyberPreKeyRecord): Promise<void> {
    this.records.set(id, record);
  }
  async getKyberPreKey(id: number): Promise<KyberPreKeyRecord> {
    const record = this.records.get(id);
    if (!record) throw new Error(`no kyber prekey ${id}`);
    return record;
  }
  async markKyberPreKeyUsed(id: number, _signedPreKeyId: number, _baseKey: PublicKey): Promise<void> {
    this.used.add(id); // a one-time Kyber prekey; a last-resort key would instead record (id, baseKey)
  }
}

interface Party {
  address: ProtocolAddress;
  identity: MemoryIdentityStore;
  sessions: MemorySessionStore;
}

function makeParty(name: string): Party & { identityKey: IdentityKeyPair; registrationId: number } {
  const identityKey = IdentityKeyPair.generate();
  const registrationId = 1 + Math.floor(Math.random() * 16380);
  return {
    address: ProtocolAddress.new(name, 1),
    identity: new MemoryIdentityStore(identityKey, registrationId),
    sessions: new MemorySessionStore(),
    identityKey,
    registrationId,
  };
}

async function encrypt(pt: Uint8Array, from: Party, to: Party): Promise<LibsignalCiphertext> {
  const message = await signalEncrypt(
    pt as Uint8Array<ArrayBuffer>,
    to.address,
    from.address,
    from.sessions,
    from.identity,
  );
  return { type: message.type(), bytes: message.serialize() };
}

async function decryptWhisper(ct: LibsignalCiphertext, at: Party, from: Party): Promise<Uint8Array> {
  if (ct.type !== CiphertextMessageType.Whisper) throw new Error(`unexpected message type ${ct.type}`);
  return signalDecrypt(SignalMessage.deserialize(ct.bytes), from.address, at.address, at.sessions, at.identity);
}

async function sessionSize(owner: Party, peer: Party): Promise<number> {
  const record = await owner.sessions.getSession(peer.address);
  return record ? record.serialize().length : Number.NaN;
}

export function makeLibsignalTarget(): BenchTarget {
  const version = packageVersion('@signalapp/libsignal-client');
  return {
    id: 'libsignal',
    name: `libsignal-client ${version}`,
    version,
    pq: true,
    notes: [
      'libsignal: PQXDH with a one-time EC prekey and a one-time Kyber prekey (libsignal generates Kyber1024); initiate = processPreKeyBundle (verifies both prekey signatures, X25519 DHs, KEM encapsulation); respond = signalDecryptPreKey (DHs, KEM decapsulation, decrypt). Every call crosses the N-API bridge and awaits the JS store callbacks (in-memory maps holding native records, no per-call serialization).',
      'libsignal: while the initiator has not received a reply it keeps sending PreKeySignalMessages; pairs are confirmed with one B→A message before the in-order, ping-pong and out-of-order runs, so those use plain SignalMessages. Version 0.103 sends message version 4 with its sparse post-quantum ratchet (SPQR) running alongside the Double Ratchet: every message carries an SPQR chunk (pqRatchet field) and the session holds SPQR state, which shows in message and session sizes and in per-message cost.',
    ],
    setupHandshake(): Handshake {
      const alice = makeParty('alice');
      const bob = makeParty('bob');
      const prekeys = new MemoryPreKeyStore();
      const signedPrekeys = new MemorySignedPreKeyStore();
      const kyberPrekeys = new MemoryKyberPreKeyStore();
      const now = Date.now();

      const oneTime = PrivateKey.generate();
      const signed = PrivateKey.generate();
      const signedSig = bob.identityKey.privateKey.sign(signed.getPublicKey().serialize());
      const kem = KEMKeyPair.generate();
      const kemSig = bob.identityKey.privateKey.sign(kem.getPublicKey().serialize());
      // The store writes are synchronous Map sets behind async signatures; nothing to await here.
      void prekeys.savePreKey(1, PreKeyRecord.new(1, oneTime.getPublicKey(), oneTime));
      void signedPrekeys.saveSignedPreKey(1, SignedPreKeyRecord.new(1, now, signed.getPublicKey(), signed, signedSig));
      void kyberPrekeys.saveKyberPreKey(1, KyberPreKeyRecord.new(1, now, kem, kemSig));
      const bundle = PreKeyBundle.new(
        bob.registrationId,
        1,
        1,
        oneTime.getPublicKey(),
        1,
        signed.getPublicKey(),
        signedSig,
        bob.identityKey.publicKey,
        1,
        kem.getPublicKey(),
        kemSig,
      );

      const pair: Pair = {
        encryptAtoB: (pt) => encrypt(pt, alice, bob),
        decryptAtB: (ct) => decryptWhisperOrPreKey(ct as LibsignalCiphertext),
        encryptBtoA: (pt) => encrypt(pt, bob, alice),
        decryptAtA: (ct) => decryptWhisper(ct as LibsignalCiphertext, alice, bob),
        sessionSizeA: () => sessionSize(alice, bob),
        sessionSizeB: () => sessionSize(bob, alice),
        ciphertextSize: (ct) => (ct as LibsignalCiphertext).bytes.length,
      };

      function decryptPreKey(ct: LibsignalCiphertext): Promise<Uint8Array> {
        return signalDecryptPreKey(
          PreKeySignalMessage.deserialize(ct.bytes),
          alice.address,
          bob.address,
          bob.sessions,
          bob.identity,
          prekeys,
          signedPrekeys,
          kyberPrekeys,
        );
      }
      // Until A has received a reply, its messages to B are PreKeySignalMessages.
      function decryptWhisperOrPreKey(ct: LibsignalCiphertext): Promise<Uint8Array> {
        return ct.type === CiphertextMessageType.PreKey ? decryptPreKey(ct) : decryptWhisper(ct, bob, alice);
      }

      return {
        initiate: () => processPreKeyBundle(bundle, bob.address, alice.address, alice.sessions, alice.identity),
        encryptFirst: (pt) => encrypt(pt, alice, bob),
        respond: (ct) => {
          const message = ct as LibsignalCiphertext;
          if (message.type !== CiphertextMessageType.PreKey) throw new Error('first message is not a prekey message');
          return decryptPreKey(message);
        },
        pair: () => pair,
      };
    },
  };
}

/** The KEM libsignal uses for prekeys, from a generated key's type prefix and size. */
export function libsignalKemInfo(): { keyType: string; publicKeyBytes: number } {
  const kp = KEMKeyPair.generate();
  const publicKeyBytes = kp.getPublicKey().serialize().length;
  // Serialized KEM keys carry a 1-byte type prefix; 0x08 is libsignal's KeyType::Kyber1024.
  const prefix = kp.getPublicKey().serialize()[0] ?? 0;
  const keyType = prefix === 0x08 ? 'Kyber1024' : `KEM key type 0x${prefix.toString(16)}`;
  return { keyType, publicKeyBytes };
}

export {
  KEMKeyPair as LibsignalKEMKeyPair,
  PrivateKey as LibsignalPrivateKey,
  SessionRecord as LibsignalSessionRecord,
};

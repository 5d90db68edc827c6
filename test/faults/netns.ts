/**
 * A throwaway network of Linux network namespaces for system tests (see ../../shared TESTING.md,
 * "Several hosts on one machine"): one switch namespace holding a bridge, and one namespace per
 * host, each joined to the bridge by a veth pair (`eth0` inside the host, `<prefix>-<host>` on the
 * switch), with an address in a private /24 and `lo` up. Every `ip` call goes through execFile and
 * fails loudly with its stderr.
 *
 * Safety: the addresses of this network are only ever dialled from inside its namespaces (run
 * processes there with `netnsExec`); the host namespace never learns or dials them. The veth pairs
 * are created directly inside the namespaces, so no interface of the test network ever appears in
 * the host namespace. Delete the network with `destroyNetwork` in a finally, also on failure.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';

/** Bound of one `ip` invocation. */
const IP_TIMEOUT_MS = 10_000;
/** Linux interface names are at most 15 bytes (IFNAMSIZ - 1). */
const IFNAMSIZ_MAX = 15;
const BRIDGE = 'br0';
const HOST_IF = 'eth0';

export interface TestHost {
  /** Short name given by the caller, e.g. 'a'. */
  readonly name: string;
  /** The host's namespace. */
  readonly ns: string;
  /** Its IPv4 address (inside the test network only). */
  readonly address: string;
  /** Its port on the switch: the veth end in the switch namespace, attached to the bridge. */
  readonly switchPort: string;
}

export interface TestNetwork {
  readonly prefix: string;
  readonly switchNs: string;
  /** The /24, as its first three octets, e.g. '10.213.5'. */
  readonly subnet: string;
  readonly hosts: Readonly<Record<string, TestHost>>;
  /** Every namespace created so far (the switch first). */
  readonly namespaces: string[];
}

/** Runs `ip <args>`; rejects with the command line and ip's stderr. */
export function ip(args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('ip', [...args], { timeout: IP_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err) {
        const detail = String(stderr).trim() || err.message;
        reject(new Error(`\`ip ${args.join(' ')}\` failed: ${detail}`));
      } else resolve(String(stdout));
    });
  });
}

/**
 * Fails with a clear message unless this process is root and `ip netns` works. Tests call it
 * first and fail (not skip) when the machine cannot build a test network.
 */
export async function requireNetns(): Promise<void> {
  if (process.platform !== 'linux') throw new Error(`network namespaces need Linux (this is ${process.platform})`);
  const uid = process.getuid?.();
  if (uid !== 0) throw new Error(`network namespaces need root (uid is ${uid}); run this test as root`);
  try {
    await ip(['netns', 'list']);
  } catch (err) {
    throw new Error(`\`ip netns\` is not available (iproute2 missing or no netns support): ${(err as Error).message}`);
  }
}

/** A fresh per-run prefix, e.g. 'sp3fa1' (short: interface names are built from it). */
export function runPrefix(): string {
  return `sp${randomBytes(2).toString('hex')}`;
}

/**
 * Builds the network: `<prefix>-sw` with bridge br0, and for each host name `<prefix>-<name>` with
 * `eth0` at `<subnet>.<firstHost + i>/24`. On any failure it deletes what it made and rethrows.
 */
export async function createNetwork(options: {
  hosts: readonly string[];
  subnet: string;
  prefix?: string;
  firstHost?: number;
}): Promise<TestNetwork> {
  const prefix = options.prefix ?? runPrefix();
  const firstHost = options.firstHost ?? 11;
  if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(options.subnet)) throw new Error(`subnet ${options.subnet}: want a.b.c`);
  if (!/^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/.test(options.subnet)) {
    throw new Error(`subnet ${options.subnet} is not private`);
  }
  if (firstHost + options.hosts.length > 254) throw new Error('too many hosts for a /24');
  for (const name of options.hosts) {
    if (!/^[a-z0-9]+$/.test(name)) throw new Error(`host name ${name}: lowercase letters and digits only`);
    if (`${prefix}-${name}`.length > IFNAMSIZ_MAX) throw new Error(`interface name ${prefix}-${name} is too long`);
  }
  const existing = await ip(['netns', 'list']);
  if (existing.split('\n').some((line) => line.startsWith(`${prefix}-`))) {
    throw new Error(`namespaces with prefix ${prefix} already exist`);
  }

  const switchNs = `${prefix}-sw`;
  const namespaces: string[] = [];
  const hosts: Record<string, TestHost> = {};
  const net: TestNetwork = { prefix, switchNs, subnet: options.subnet, hosts, namespaces };
  try {
    await ip(['netns', 'add', switchNs]);
    namespaces.push(switchNs);
    await ip(['-n', switchNs, 'link', 'set', 'lo', 'up']);
    await ip(['-n', switchNs, 'link', 'add', BRIDGE, 'type', 'bridge']);
    await ip(['-n', switchNs, 'link', 'set', BRIDGE, 'up']);
    for (const [i, name] of options.hosts.entries()) {
      const ns = `${prefix}-${name}`;
      const switchPort = `${prefix}-${name}`;
      const address = `${options.subnet}.${firstHost + i}`;
      await ip(['netns', 'add', ns]);
      namespaces.push(ns);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      // both ends are born inside their namespaces: nothing of the test network in the host's
      await ip(['-n', switchNs, 'link', 'add', switchPort, 'type', 'veth', 'peer', 'name', HOST_IF, 'netns', ns]);
      await ip(['-n', switchNs, 'link', 'set', switchPort, 'master', BRIDGE]);
      await ip(['-n', switchNs, 'link', 'set', switchPort, 'up']);
      await ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', HOST_IF]);
      await ip(['-n', ns, 'link', 'set', HOST_IF, 'up']);
      hosts[name] = { name, ns, address, switchPort };
    }
  } catch (err) {
    await destroyNetwork(net).catch(() => undefined);
    throw err;
  }
  return net;
}

function host(net: TestNetwork, name: string): TestHost {
  const h = net.hosts[name];
  if (!h) throw new Error(`no host ${name} in network ${net.prefix}`);
  return h;
}

/** Cuts `name` off: its port on the switch goes down (both directions, every peer). */
export async function partition(net: TestNetwork, name: string): Promise<void> {
  await ip(['-n', net.switchNs, 'link', 'set', host(net, name).switchPort, 'down']);
}

/** Undoes `partition`. */
export async function heal(net: TestNetwork, name: string): Promise<void> {
  await ip(['-n', net.switchNs, 'link', 'set', host(net, name).switchPort, 'up']);
}

/** The command line that runs `command args` inside `name`'s namespace (for spawn). */
export function netnsExec(
  net: TestNetwork,
  name: string,
  command: string,
  args: readonly string[],
): [string, string[]] {
  return ['ip', ['netns', 'exec', host(net, name).ns, command, ...args]];
}

/**
 * Deletes every namespace of the network (their veth pairs and bridge go with them), hosts first.
 * Tries all of them; rejects afterwards if any could not be deleted. Idempotent: a namespace that
 * is already gone is not an error. Stop the processes inside first (a namespace with a process
 * in it lives on, unnamed, until that process exits).
 */
export async function destroyNetwork(net: TestNetwork): Promise<void> {
  const present = new Set((await ip(['netns', 'list'])).split('\n').map((line) => line.split(' ')[0]?.trim() ?? ''));
  const failures: string[] = [];
  const left: string[] = [];
  for (const ns of [...net.namespaces].reverse()) {
    if (!present.has(ns)) continue;
    try {
      await ip(['netns', 'delete', ns]);
    } catch (err) {
      left.unshift(ns);
      failures.push((err as Error).message);
    }
  }
  net.namespaces.splice(0, net.namespaces.length, ...left); // a later call tries these again
  if (failures.length > 0) throw new Error(`could not delete namespaces: ${failures.join('; ')}`);
}

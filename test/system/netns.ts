/**
 * A throwaway network of Linux network namespaces for system tests (see ../../shared TESTING.md,
 * "Several hosts on one machine"): one switch namespace holding one bridge per *segment* (a /24),
 * one namespace per host, each joined to its segment's bridge by a veth pair (`eth0` inside the
 * host, `<prefix>-<host>` on the switch), with an address in the segment's private /24 and `lo` up.
 *
 * A *router* namespace connects a private segment to another one (the "WAN") the way a home router
 * does: `wan0` on the WAN bridge, `lan0` on the private bridge, IP forwarding on, and
 * `iptables -t nat -A POSTROUTING -o wan0 -j MASQUERADE` plus a stateful forward filter (only
 * connections opened from the LAN, and their replies, pass). Hosts on the private segment get a
 * default route through it; hosts on the WAN get no route to the private segment, so they can only
 * answer what came out of it. The forwarding switch, the NAT and the filter exist only inside the
 * router's namespace: the host namespace's firewall and sysctls are never read or written.
 *
 * IPv6 (optional, `segments6`): a segment may also get an IPv6 /64. Hosts get `<prefix>::<n>`,
 * routers `<lan prefix>::1` on `lan0` and `<wan prefix>::201`, `::202`, … on `wan0`, all added with
 * `nodad` (usable at once, no duplicate-address-detection wait), and LAN hosts a default IPv6 route
 * through their router. A router then also forwards IPv6 (`net.ipv6.conf.all.forwarding`, inside its
 * namespace) and does NAT66: `ip6tables -t nat -A POSTROUTING -o wan0 -j MASQUERADE` and the same
 * stateful forward filter. Only two kinds of prefix are accepted: sub-prefixes of `3fff::/20`
 * (RFC 9637, reserved for documentation: libp2p does not count it as private, so a segment in it
 * plays the public internet, e.g. for AutoNAT and DCUtR) and of the ULA range `fd00::/8` (for
 * LANs). Neither is routed anywhere, and both exist only on interfaces inside this network's
 * namespaces, which have no route out of the machine; they are only ever dialled by processes
 * running inside those namespaces.
 *
 * Every `ip` call goes through execFile and fails loudly with its stderr.
 *
 * Safety: the addresses of this network are only ever dialled from inside its namespaces (run
 * processes there with `netnsExec`); the host namespace never learns or dials them. Every veth pair
 * is created from inside the switch namespace with its other end born in the host's (or router's)
 * namespace, so no interface of the test network ever appears in the host namespace. Names carry a
 * per-run prefix. Delete the network with `destroyNetwork` in a finally, also on failure. The IPv6
 * prefixes above follow the same rule: never an address or a route for them in the host namespace.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, constants } from 'node:fs/promises';
import { delimiter, join } from 'node:path';

/** Bound of one `ip` (or in-namespace) invocation. */
const EXEC_TIMEOUT_MS = 10_000;
/** Linux interface names are at most 15 bytes (IFNAMSIZ - 1). */
const IFNAMSIZ_MAX = 15;
const HOST_IF = 'eth0';
const ROUTER_WAN_IF = 'wan0';
const ROUTER_LAN_IF = 'lan0';
/** A router's address on its LAN (the hosts' gateway): `<lan subnet>.1`. */
const ROUTER_LAN_HOST = 1;
/** Routers' WAN addresses: `<wan subnet>.201`, `.202`, … (hosts start at 11). */
const ROUTER_WAN_FIRST = 201;
/** Routers' IPv6 addresses: `<lan prefix>::1` on the LAN, `<wan prefix>::201`, `::202`, … on the WAN. */
const ROUTER_LAN_HOST6 = '1';
/** The default segment's name when a network is given as one `subnet`. */
export const MAIN_SEGMENT = 'main';

export interface TestHost {
  /** Short name given by the caller, e.g. 'a'. */
  readonly name: string;
  /** The host's namespace. */
  readonly ns: string;
  /** Its IPv4 address (inside the test network only). */
  readonly address: string;
  /** Its IPv6 address when its segment has one (`segments6`), e.g. '3fff:0:0:7::11'. */
  readonly address6?: string;
  /** The segment it is plugged into. */
  readonly segment: string;
  /** Its port on the switch: the veth end in the switch namespace, attached to its segment's bridge. */
  readonly switchPort: string;
  /** The router it reaches the WAN through (hosts on a router's LAN only). */
  readonly gateway?: string;
}

export interface TestRouter {
  readonly name: string;
  readonly ns: string;
  readonly wanSegment: string;
  readonly lanSegment: string;
  /** Its address on the WAN: the source address every NATed connection appears to come from. */
  readonly wanAddress: string;
  /** Its address on the LAN: the default gateway of the LAN's hosts. */
  readonly lanAddress: string;
  /** Its IPv6 address on the WAN (when both segments have IPv6): where NAT66 connections come from. */
  readonly wanAddress6?: string;
  /** Its IPv6 address on the LAN (when both segments have IPv6): the LAN hosts' IPv6 gateway. */
  readonly lanAddress6?: string;
  readonly wanPort: string;
  readonly lanPort: string;
}

export interface TestSegment {
  readonly name: string;
  /** The /24, as its first three octets, e.g. '10.213.7'. */
  readonly subnet: string;
  /** Its IPv6 /64 as four hextets, e.g. '3fff:0:0:7' (when given in `segments6`). */
  readonly subnet6?: string;
  /** Its bridge in the switch namespace. */
  readonly bridge: string;
}

export interface TestNetwork {
  readonly prefix: string;
  readonly switchNs: string;
  /** The first segment's /24 (the only one for a network given as one `subnet`). */
  readonly subnet: string;
  readonly segments: Readonly<Record<string, TestSegment>>;
  readonly hosts: Readonly<Record<string, TestHost>>;
  readonly routers: Readonly<Record<string, TestRouter>>;
  /** Every namespace created so far (the switch first). */
  readonly namespaces: string[];
}

export interface HostSpec {
  readonly name: string;
  /** Default: the first segment. */
  readonly segment?: string;
}

export interface RouterSpec {
  readonly name: string;
  /** The segment its `wan0` is on (where the NATed connections come out). */
  readonly wan: string;
  /** The private segment behind it; its hosts get a default route through the router. */
  readonly lan: string;
}

export interface NetworkSpec {
  /** Shorthand for `segments: { main: subnet }`. */
  readonly subnet?: string;
  /** Segment name → its /24 as `a.b.c` (private ranges only). */
  readonly segments?: Readonly<Record<string, string>>;
  /**
   * Segment name (of `segments`) → an IPv6 /64 for it as four hextets: inside `3fff::/20` (the
   * documentation prefix, for segments playing the public internet) or `fd00::/8` (ULA, for LANs).
   * A router gets IPv6 and NAT66 when both its segments have one.
   */
  readonly segments6?: Readonly<Record<string, string>>;
  /** Host names (on the first segment) or specs. */
  readonly hosts: readonly (string | HostSpec)[];
  readonly routers?: readonly RouterSpec[];
  readonly prefix?: string;
  /** Last octet of the first host of each segment (default 11). */
  readonly firstHost?: number;
}

function run(command: string, args: readonly string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(command, [...args], { timeout: EXEC_TIMEOUT_MS }, (err, stdout, stderr) => {
      if (err) {
        const detail = String(stderr).trim() || err.message;
        reject(new Error(`\`${command} ${args.join(' ')}\` failed: ${detail}`));
      } else resolve(String(stdout));
    });
  });
}

/** Runs `ip <args>`; rejects with the command line and ip's stderr. */
export function ip(args: readonly string[]): Promise<string> {
  return run('ip', args);
}

/** Runs `command args` inside namespace `ns` (never in the host namespace). */
function inNamespace(ns: string, command: string, args: readonly string[]): Promise<string> {
  return ip(['netns', 'exec', ns, command, ...args]);
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

/**
 * Fails with a clear message unless an `iptables` (or, for NAT66, `ip6tables`) executable is on the
 * PATH (router namespaces need it for their NAT). Only looks for the file: nothing runs in the host
 * namespace.
 */
export async function requireIptables(command: 'iptables' | 'ip6tables' = 'iptables'): Promise<void> {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    try {
      await access(join(dir, command), constants.X_OK);
      return;
    } catch {
      // not in this directory
    }
  }
  throw new Error(
    `${command} is not installed (router namespaces need it for NAT); on Debian: ` +
      'apt-get install -y --no-install-recommends iptables',
  );
}

/** A fresh per-run prefix, e.g. 'sp3fa1' (short: interface names are built from it). */
export function runPrefix(): string {
  return `sp${randomBytes(2).toString('hex')}`;
}

const PRIVATE_SUBNET_RE = /^(10\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)/;
/** Four hextets, lowercase, no leading zeros: the /64 of an IPv6 segment. */
const PREFIX6_RE = /^(0|[1-9a-f][0-9a-f]{0,3})(:(0|[1-9a-f][0-9a-f]{0,3})){3}$/;

/**
 * Only two kinds of IPv6 /64 may be used: inside 3fff::/20 (RFC 9637 documentation prefix: first
 * hextet 3fff, second below 0x1000) or inside the ULA fd00::/8. Neither is routed on the internet.
 */
function checkPrefix6(prefix: string): void {
  if (!PREFIX6_RE.test(prefix)) throw new Error(`IPv6 prefix ${prefix}: want four hextets, e.g. 3fff:0:0:7`);
  const [first = '', second = ''] = prefix.split(':');
  const documentation = first === '3fff' && Number.parseInt(second, 16) < 0x1000;
  const ula = first.length === 4 && first.startsWith('fd');
  if (!documentation && !ula) throw new Error(`IPv6 prefix ${prefix} is neither in 3fff::/20 nor in fd00::/8`);
}
const NAME_RE = /^[a-z0-9]+$/;

function checkSpec(spec: NetworkSpec, prefix: string): { segments: [string, string][]; hosts: HostSpec[] } {
  const segments = Object.entries(spec.segments ?? (spec.subnet ? { [MAIN_SEGMENT]: spec.subnet } : {}));
  if (segments.length === 0) throw new Error('a network needs a subnet or segments');
  if (spec.subnet !== undefined && spec.segments !== undefined) throw new Error('give subnet or segments, not both');
  const subnets = new Set<string>();
  for (const [name, subnet] of segments) {
    if (!NAME_RE.test(name) || `br${name}`.length > IFNAMSIZ_MAX) throw new Error(`segment name ${name}: bad`);
    if (!/^\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(subnet)) throw new Error(`subnet ${subnet}: want a.b.c`);
    if (!PRIVATE_SUBNET_RE.test(subnet)) throw new Error(`subnet ${subnet} is not private`);
    if (subnets.has(subnet)) throw new Error(`subnet ${subnet} used twice`);
    subnets.add(subnet);
  }
  const segmentNames = new Set(segments.map(([name]) => name));
  const prefixes6 = new Set<string>();
  for (const [name, prefix] of Object.entries(spec.segments6 ?? {})) {
    if (!segmentNames.has(name)) throw new Error(`segments6: no segment ${name}`);
    checkPrefix6(prefix);
    if (prefixes6.has(prefix)) throw new Error(`IPv6 prefix ${prefix} used twice`);
    prefixes6.add(prefix);
  }
  const first = segments[0]?.[0] ?? MAIN_SEGMENT;
  const hosts = spec.hosts.map((h) => (typeof h === 'string' ? { name: h, segment: first } : h));
  const names = new Set<string>();
  const ports: string[] = [];
  for (const h of hosts) {
    if (!segmentNames.has(h.segment ?? first)) throw new Error(`host ${h.name}: no segment ${h.segment}`);
    names.add(h.name);
    ports.push(h.name);
  }
  for (const r of spec.routers ?? []) {
    if (!segmentNames.has(r.wan) || !segmentNames.has(r.lan) || r.wan === r.lan) {
      throw new Error(`router ${r.name}: wan ${r.wan} and lan ${r.lan} must be two segments`);
    }
    if ((spec.routers ?? []).filter((x) => x.lan === r.lan).length > 1) throw new Error(`two routers on ${r.lan}`);
    names.add(r.name);
    ports.push(`${r.name}w`, `${r.name}l`);
  }
  if (names.size !== hosts.length + (spec.routers ?? []).length) throw new Error('host and router names must differ');
  for (const name of names) if (!NAME_RE.test(name)) throw new Error(`name ${name}: lowercase letters and digits only`);
  for (const port of ports) {
    if (`${prefix}-${port}`.length > IFNAMSIZ_MAX) throw new Error(`interface name ${prefix}-${port} is too long`);
  }
  const firstHost = spec.firstHost ?? 11;
  for (const [segment] of segments) {
    const count = hosts.filter((h) => (h.segment ?? first) === segment).length;
    if (firstHost + count > ROUTER_WAN_FIRST) throw new Error(`too many hosts on segment ${segment}`);
  }
  return { segments, hosts };
}

/** A veth pair born in the switch namespace, its other end in `ns` as `inner`, the switch end on `bridge`. */
async function plug(switchNs: string, bridge: string, port: string, ns: string, inner: string): Promise<void> {
  await ip(['-n', switchNs, 'link', 'add', port, 'type', 'veth', 'peer', 'name', inner, 'netns', ns]);
  await ip(['-n', switchNs, 'link', 'set', port, 'master', bridge]);
  await ip(['-n', switchNs, 'link', 'set', port, 'up']);
}

/**
 * Turns `ns` into a NAT router from `lan0` to `wan0` (everything inside `ns`): IPv4, or IPv6 with
 * NAT66 (`family` 6). The sysctl is the namespace's own (/proc/sys/net is per network namespace).
 */
async function makeRouter(ns: string, family: 4 | 6 = 4): Promise<void> {
  const ipt = (args: string[]) => inNamespace(ns, family === 4 ? 'iptables' : 'ip6tables', args);
  const sysctl = family === 4 ? '/proc/sys/net/ipv4/ip_forward' : '/proc/sys/net/ipv6/conf/all/forwarding';
  await inNamespace(ns, 'sh', ['-c', `echo 1 > ${sysctl}`]);
  const forwarding = (await inNamespace(ns, 'cat', [sysctl])).trim();
  if (forwarding !== '1') throw new Error(`router ${ns}: ${sysctl} is ${forwarding}, not 1`);
  await ipt(['-t', 'nat', '-A', 'POSTROUTING', '-o', ROUTER_WAN_IF, '-j', 'MASQUERADE']);
  // a home router: connections from the LAN out, their replies back in, nothing else
  await ipt(['-P', 'FORWARD', 'DROP']);
  await ipt(['-A', 'FORWARD', '-i', ROUTER_LAN_IF, '-o', ROUTER_WAN_IF, '-j', 'ACCEPT']);
  await ipt([
    '-A',
    'FORWARD',
    '-i',
    ROUTER_WAN_IF,
    '-o',
    ROUTER_LAN_IF,
    '-m',
    'conntrack',
    '--ctstate',
    'ESTABLISHED,RELATED',
    '-j',
    'ACCEPT',
  ]);
}

/**
 * Builds the network: `<prefix>-sw` with one bridge per segment, `<prefix>-<name>` per host with
 * `eth0` at `<segment subnet>.<firstHost + i>/24` (i counts the hosts of that segment), and
 * `<prefix>-<name>` per router. On any failure it deletes what it made and rethrows.
 */
export async function createNetwork(spec: NetworkSpec): Promise<TestNetwork> {
  const prefix = spec.prefix ?? runPrefix();
  const { segments: segmentList, hosts: hostSpecs } = checkSpec(spec, prefix);
  const firstHost = spec.firstHost ?? 11;
  const existing = await ip(['netns', 'list']);
  if (existing.split('\n').some((line) => line.startsWith(`${prefix}-`))) {
    throw new Error(`namespaces with prefix ${prefix} already exist`);
  }

  const switchNs = `${prefix}-sw`;
  const prefixes6 = spec.segments6 ?? {};
  const namespaces: string[] = [];
  const segments: Record<string, TestSegment> = {};
  const hosts: Record<string, TestHost> = {};
  const routers: Record<string, TestRouter> = {};
  const firstSubnet = segmentList[0]?.[1] ?? '';
  const net: TestNetwork = { prefix, switchNs, subnet: firstSubnet, segments, hosts, routers, namespaces };
  const first = segmentList[0]?.[0] ?? MAIN_SEGMENT;
  try {
    await ip(['netns', 'add', switchNs]);
    namespaces.push(switchNs);
    await ip(['-n', switchNs, 'link', 'set', 'lo', 'up']);
    for (const [name, subnet] of segmentList) {
      const bridge = `br${name}`;
      await ip(['-n', switchNs, 'link', 'add', bridge, 'type', 'bridge']);
      await ip(['-n', switchNs, 'link', 'set', bridge, 'up']);
      const subnet6 = prefixes6[name];
      segments[name] = { name, subnet, bridge, ...(subnet6 ? { subnet6 } : {}) };
    }
    const seg = (name: string): TestSegment => {
      const s = segments[name];
      if (!s) throw new Error(`no segment ${name}`);
      return s;
    };

    for (const [i, r] of (spec.routers ?? []).entries()) {
      const ns = `${prefix}-${r.name}`;
      const wan = seg(r.wan);
      const lan = seg(r.lan);
      const v6 = wan.subnet6 !== undefined && lan.subnet6 !== undefined;
      const router: TestRouter = {
        name: r.name,
        ns,
        wanSegment: r.wan,
        lanSegment: r.lan,
        wanAddress: `${wan.subnet}.${ROUTER_WAN_FIRST + i}`,
        lanAddress: `${lan.subnet}.${ROUTER_LAN_HOST}`,
        ...(v6
          ? {
              wanAddress6: `${wan.subnet6}::${ROUTER_WAN_FIRST + i}`,
              lanAddress6: `${lan.subnet6}::${ROUTER_LAN_HOST6}`,
            }
          : {}),
        wanPort: `${prefix}-${r.name}w`,
        lanPort: `${prefix}-${r.name}l`,
      };
      await ip(['netns', 'add', ns]);
      namespaces.push(ns);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      await plug(switchNs, wan.bridge, router.wanPort, ns, ROUTER_WAN_IF);
      await plug(switchNs, lan.bridge, router.lanPort, ns, ROUTER_LAN_IF);
      await ip(['-n', ns, 'addr', 'add', `${router.wanAddress}/24`, 'dev', ROUTER_WAN_IF]);
      await ip(['-n', ns, 'addr', 'add', `${router.lanAddress}/24`, 'dev', ROUTER_LAN_IF]);
      if (router.wanAddress6 && router.lanAddress6) {
        // nodad: usable at once (no duplicate address detection on a network the test made)
        await ip(['-n', ns, 'addr', 'add', `${router.wanAddress6}/64`, 'dev', ROUTER_WAN_IF, 'nodad']);
        await ip(['-n', ns, 'addr', 'add', `${router.lanAddress6}/64`, 'dev', ROUTER_LAN_IF, 'nodad']);
      }
      await ip(['-n', ns, 'link', 'set', ROUTER_WAN_IF, 'up']);
      await ip(['-n', ns, 'link', 'set', ROUTER_LAN_IF, 'up']);
      await makeRouter(ns);
      if (v6) await makeRouter(ns, 6);
      routers[r.name] = router;
    }

    const counts = new Map<string, number>();
    for (const h of hostSpecs) {
      const segment = h.segment ?? first;
      const s = seg(segment);
      const index = counts.get(segment) ?? 0;
      counts.set(segment, index + 1);
      const ns = `${prefix}-${h.name}`;
      const switchPort = `${prefix}-${h.name}`;
      const address = `${s.subnet}.${firstHost + index}`;
      const address6 = s.subnet6 === undefined ? undefined : `${s.subnet6}::${firstHost + index}`;
      const gateway = Object.values(routers).find((r) => r.lanSegment === segment);
      await ip(['netns', 'add', ns]);
      namespaces.push(ns);
      await ip(['-n', ns, 'link', 'set', 'lo', 'up']);
      // both ends are born inside their namespaces: nothing of the test network in the host's
      await plug(switchNs, s.bridge, switchPort, ns, HOST_IF);
      await ip(['-n', ns, 'addr', 'add', `${address}/24`, 'dev', HOST_IF]);
      if (address6) await ip(['-n', ns, 'addr', 'add', `${address6}/64`, 'dev', HOST_IF, 'nodad']);
      await ip(['-n', ns, 'link', 'set', HOST_IF, 'up']);
      if (gateway) await ip(['-n', ns, 'route', 'add', 'default', 'via', gateway.lanAddress, 'dev', HOST_IF]);
      if (gateway?.lanAddress6 && address6) {
        await ip(['-n', ns, '-6', 'route', 'add', 'default', 'via', gateway.lanAddress6, 'dev', HOST_IF]);
      }
      hosts[h.name] = {
        name: h.name,
        ns,
        address,
        ...(address6 ? { address6 } : {}),
        segment,
        switchPort,
        ...(gateway ? { gateway: gateway.name } : {}),
      };
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

/** The command line that runs `command args` inside host `name`'s namespace (for spawn). */
export function netnsExec(
  net: TestNetwork,
  name: string,
  command: string,
  args: readonly string[],
): [string, string[]] {
  return ['ip', ['netns', 'exec', host(net, name).ns, command, ...args]];
}

/**
 * The router's NAT table as `iptables -t nat -S` (`ip6tables` for `family` 6) prints it inside its
 * namespace (for checks and reports).
 */
export async function routerNatRules(net: TestNetwork, name: string, family: 4 | 6 = 4): Promise<string> {
  const r = net.routers[name];
  if (!r) throw new Error(`no router ${name} in network ${net.prefix}`);
  return inNamespace(r.ns, family === 4 ? 'iptables' : 'ip6tables', ['-t', 'nat', '-S']);
}

/** The namespaces of this run that `ip netns list` still shows. */
export async function leftoverNamespaces(net: TestNetwork): Promise<string[]> {
  const present = (await ip(['netns', 'list'])).split('\n').map((line) => line.split(' ')[0]?.trim() ?? '');
  return present.filter((ns) => ns.startsWith(`${net.prefix}-`));
}

/**
 * Deletes every namespace of the network (their veth pairs, bridges, NAT rules and forwarding
 * switch go with them), hosts first. Tries all of them; rejects afterwards if any could not be
 * deleted. Idempotent: a namespace that is already gone is not an error. Stop the processes inside
 * first (a namespace with a process in it lives on, unnamed, until that process exits).
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

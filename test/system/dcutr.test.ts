/**
 * DCUtR and AutoNAT v2 really at work (issue 6), over IPv6 in Linux network namespaces
 * (test/system/netns.ts):
 *
 *   WAN 3fff:0:0:10::/64 ("public"):  R  relay (circuit relay v2 server, DHT server)
 *                                      S  DHT server
 *                                      P  public node (DHT client)
 *                                      A  public node that announces nothing (DHT client): AutoNAT's subject
 *                                      rt1, rt2  routers doing NAT66 (MASQUERADE out of wan0)
 *   LAN fd00:0:0:11::/64:  N1 behind rt1      LAN fd00:0:0:12::/64:  N2 behind rt2
 *
 * Why IPv6: js-libp2p counts every IPv4 range a test may use (private and documentation ranges
 * alike) as private, and neither AutoNAT nor DCUtR ever acts on a private address (see
 * test/system/nat.test.ts, which runs the same roles over IPv4 and sees both stand aside). The
 * IPv6 documentation prefix 3fff::/20 (RFC 9637) is not on libp2p's private list, so the WAN here
 * looks public to it. Those addresses exist only on interfaces inside this test's namespaces,
 * which have no route out of the machine, and only processes inside them dial them.
 *
 * R, S and P `announce` their public address, as a public deployment does: libp2p advertises
 * (identify, DHT) only addresses it counts as verified, and announced ones count at once, so their
 * AutoNAT has nothing to ask and they only serve. A announces nothing, so its address waits for
 * AutoNAT v2 (@libp2p/autonat-v2).
 *
 * What is asserted, each with a printed `# dcutr:` figure:
 * (a) AutoNAT v2 tells A it is public: on its connection to R (its bootstrap peer, a dial-request
 *     server) A asks for a dial-back of its 3fff listen address; a server dials that address on a
 *     new connection (A's TCP listener logs an inbound connection from the server's address before
 *     the verdict), sends the nonce back, and A's client marks the address externally dialable
 *     after that one success (a listen address needs one; an observed one would need 4 from
 *     distinct network segments). The node's transport report (src/net/report.ts) then lists the
 *     address as verified and advertises it. The time to the verdict and the number of dial-back
 *     requests are printed.
 *     N1, behind NAT66, is never told it is public: it has no observed address (libp2p ignores
 *     observed addresses of TCP connections, js-libp2p#2620), its LAN address is private (fd00::/8,
 *     counted as reachable without a test, and the client skips it), and its relay addresses come
 *     from its reservation. So its AutoNAT, notified of its connection to R like A's, finds nothing
 *     to test: it asks no peer for a dial-back and confirms no 3fff address of its own.
 * (b) N1 reserves a slot on R; P reaches N1 first over a relayed connection; DCUtR on N1 (the
 *     inbound side of the relayed connection) finds P's public address in identify and dials it
 *     through its NAT (the "unilateral upgrade"): a direct, non-limited connection N1 → P appears,
 *     libp2p closes the relayed one, and the messages P → N1 sent after that arrive while N1's only
 *     connections to P are direct. (A first message to a NATed node can find only its LAN address
 *     in the DHT and stay queued; the test then asks the sender's outbox to retry at once, bounded,
 *     and prints how often.)
 * (c) N1 and N2, each behind its own NAT66 router: messages go over the relay both ways, each
 *     arrives once, and no direct connection appears (neither end has a public address to offer,
 *     so DCUtR finds nothing to dial and the relayed path stays).
 *
 * Needs root, `ip netns` (iproute2) and ip6tables (router namespaces); fails, never skips, without
 * them. This process starts no node and dials nothing: it drives the children over IPC. Every
 * wait has a deadline; the network and the children go in a finally, also on failure.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ConnectionReport, TransportReport } from '../../src/net/index.js';
import { Cluster, NodeProcess, pollUntil, type Received, seconds } from './cluster.js';
import { createNetwork, requireIptables, requireNetns, routerNatRules } from './netns.js';

/** Private /24s no other test uses (partition 10.213.5, chat .6, NAT .7-.9); the nodes use IPv6 only. */
const SEGMENTS = { wan: '10.213.10', lan1: '10.213.11', lan2: '10.213.12' };
/** The WAN in the documentation prefix 3fff::/20, the LANs in ULA fd00::/8 (netns.ts checks both). */
const SEGMENTS6 = { wan: '3fff:0:0:10', lan1: 'fd00:0:0:11', lan2: 'fd00:0:0:12' };
const PORT = 4101;
const NODES = ['r', 's', 'p', 'a', 'n1', 'n2'] as const;
type Node = (typeof NODES)[number];
const MESSAGES = 3;
/** Bounds. */
const AUTONAT_BUDGET_MS = 60_000;
const RESERVATION_BUDGET_MS = 30_000;
const FIRST_SEND_BUDGET_MS = 45_000;
const DELIVERY_BUDGET_MS = 30_000;
const DCUTR_BUDGET_MS = 20_000;
const TEST_TIMEOUT_MS = 4 * 60_000;
/** libp2p's log namespaces kept per child (SOTTO_DCUTR_DEBUG replaces the list). */
const DEBUG =
  process.env.SOTTO_DCUTR_DEBUG ??
  // AutoNAT v2's requests and results are trace lines: libp2p logs those only for names ending in
  // `:trace`; the TCP listener logs each inbound connection (A's dial-backs)
  'libp2p:dcutr*,libp2p:auto-nat-v2*,libp2p:auto-nat-v2:client:trace,libp2p:tcp:listener,libp2p:circuit-relay*,' +
    '-libp2p:dcutr:trace,-libp2p:circuit-relay*:trace';
const CAPTURE = /libp2p|^sotto:|^\s+at |^\s*['\]]/;

const cluster = new Cluster();
after(() => cluster.cleanup());

type Sent = { id: string; state: string };
const isRelayed = (c: ConnectionReport) => c.limited && c.remoteAddr.includes('/p2p-circuit');
const isDirect = (c: ConnectionReport) => !c.limited && !c.remoteAddr.includes('/p2p-circuit');

describe('DCUtR and AutoNAT v2 over IPv6 with NAT66 routers (network namespaces)', () => {
  it('AutoNAT v2 verifies a public node’s address and never a NATed one’s; DCUtR upgrades relayed → direct where one end is public', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    await requireNetns(); // fails (not skips) without root or `ip netns`
    await requireIptables('ip6tables'); // fails (not skips) without ip6tables for NAT66
    const p = {} as Record<Node, NodeProcess>;
    try {
      const ids = {} as Record<Node, { dataDir: string; address: string; peerId: string }>;
      for (const n of NODES) ids[n] = await cluster.identity(`dcutr-${n}`);
      cluster.network = await createNetwork({
        segments: SEGMENTS,
        segments6: SEGMENTS6,
        hosts: [
          { name: 'r', segment: 'wan' },
          { name: 's', segment: 'wan' },
          { name: 'p', segment: 'wan' },
          { name: 'a', segment: 'wan' },
          { name: 'n1', segment: 'lan1' },
          { name: 'n2', segment: 'lan2' },
        ],
        routers: [
          { name: 'rt1', wan: 'wan', lan: 'lan1' },
          { name: 'rt2', wan: 'wan', lan: 'lan2' },
        ],
      });
      const net = cluster.network;
      for (const rt of ['rt1', 'rt2']) {
        assert.match(await routerNatRules(net, rt, 6), /-A POSTROUTING -o wan0 -j MASQUERADE/, `${rt} does NAT66`);
      }
      const ip6 = (n: Node) => {
        const a = net.hosts[n]?.address6;
        if (!a) throw new Error(`${n} has no IPv6 address`);
        return a;
      };
      const tcp = (n: Node) => `/ip6/${ip6(n)}/tcp/${PORT}`;
      const dialTcp = (n: Node) => `${tcp(n)}/p2p/${ids[n].peerId}`;
      const pub = (n: Node) => ({ listen: [tcp(n)], announce: [tcp(n)] });
      const nets: Record<Node, object> = {
        r: { ...pub('r'), relay: { enabled: true } },
        s: { ...pub('s'), bootstrap: [dialTcp('r')] },
        p: { ...pub('p'), bootstrap: [dialTcp('r')], dhtMode: 'client' },
        a: { listen: [tcp('a')], bootstrap: [dialTcp('r')], dhtMode: 'client' },
        n1: { listen: [tcp('n1'), '/p2p-circuit'], bootstrap: [dialTcp('r')], dhtMode: 'client' },
        n2: { listen: [tcp('n2'), '/p2p-circuit'], bootstrap: [dialTcp('r')], dhtMode: 'client' },
      };
      for (const n of NODES) {
        p[n] = cluster.add(
          new NodeProcess(
            n,
            net,
            { role: n, dataDir: ids[n].dataDir, net: nets[n], log: true },
            { env: { DEBUG }, captureLog: CAPTURE },
          ),
        );
      }
      const report = (n: Node) => p[n].call<TransportReport>('transport');
      const logs = (n: Node, re: RegExp) => p[n].logs.filter((l) => re.test(l.line)).map((l) => l.line);
      /** When a child logged its first line matching `re`: libp2p's own timestamp (same clock as ours). */
      const loggedAt = (n: Node, re: RegExp): number | undefined => {
        const line = logs(n, re)[0];
        const stamp = line?.match(/^(\d{4}-\d\d-\d\dT\S+Z) /)?.[1];
        return stamp === undefined ? undefined : Date.parse(stamp);
      };
      const since = (from: number, at: number | undefined) => (at === undefined ? 'n/a' : `${seconds(at - from)} s`);
      const t0 = Date.now();
      await p.r.start();
      await Promise.all((['s', 'p', 'a'] as const).map((n) => p[n].start()));
      // the NATed nodes last: when their reservation makes them look themselves up, S must already be
      // in R's routing table, or no DHT server but R (which keeps no circuit address) learns of it
      await Promise.all((['n1', 'n2'] as const).map((n) => p[n].start()));
      const startedMs = Date.now() - t0;
      const pPublic = tcp('p');
      const pReport = await report('p');
      assert.ok(
        pReport.multiaddrs.some((m) => m.startsWith(pPublic)),
        `P advertises its public address: ${pReport.multiaddrs}`,
      );

      // (a) AutoNAT v2 verifies A's 3fff address: a server dials it back on a new connection.
      const aPublic = tcp('a');
      const isAPublic = (m: string) => m === aPublic || m.startsWith(`${aPublic}/`);
      const esc = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      const asked = new RegExp(`asking .* to verify multiaddrs .*${esc(aPublic)}`);
      const dialedBack = new RegExp(`(12D3KooW\\w+) dialed ${esc(aPublic)} successfully`);
      const confirmed = new RegExp(`transport address ${esc(aPublic)} is externally dialable`);
      // (the children's log lines and IPC answers travel apart: wait for both)
      const verifiedMs = await pollUntil('A’s public address verified by AutoNAT v2', AUTONAT_BUDGET_MS, async () => {
        if (logs('a', confirmed).length === 0 || logs('a', dialedBack).length === 0) return false;
        return (await report('a')).addresses.some((x) => isAPublic(x.multiaddr) && x.verified);
      });
      const aReport = await report('a');
      const aEntry = aReport.addresses.find((x) => isAPublic(x.multiaddr));
      assert.deepEqual(
        aEntry && { verified: aEntry.verified, type: aEntry.type },
        { verified: true, type: 'transport' },
        'A’s report: its 3fff listen address, verified',
      );
      assert.ok(
        aReport.multiaddrs.includes(`${aPublic}/p2p/${ids.a.peerId}`),
        `A advertises its verified public address: ${aReport.multiaddrs}`,
      );
      assert.ok(logs('a', asked).length > 0, 'A asked a peer to dial its public address back');
      // who dialled back, and that it did so on a new (inbound) connection to A's listener
      const verifierId = logs('a', dialedBack)[0]?.match(dialedBack)?.[1];
      const verifier = (['r', 's', 'p'] as const).find((n) => ids[n].peerId === verifierId);
      assert.ok(verifier !== undefined, `the verifying peer is one of R, S, P: ${verifierId}`);
      const dialBackConn = new RegExp(`new inbound connection /ip6/${esc(ip6(verifier))}/tcp/\\d+`);
      const inboundAt = loggedAt('a', dialBackConn);
      const successAt = loggedAt('a', dialedBack);
      assert.ok(
        inboundAt !== undefined && successAt !== undefined && inboundAt <= successAt,
        `A accepted a new inbound connection from ${verifier} before the verdict`,
      );
      /** The servers' failures to dial A back, if any (AutoNAT v2 logs them as errors). */
      const serverErrors = (['r', 's', 'p'] as const).flatMap((n) =>
        logs(n, /auto-nat-v2:server.*(failed to open connection|could not perform dial back|error handling)/),
      );
      const short = (line: string) =>
        line.replace(/^\S+\s+/, '').replace(/12D3KooW\w+/g, (id) => `${id.slice(0, 12)}…`);

      // (b) N1 and N2 reserve on R.
      const circuitVia = `/p2p/${ids.r.peerId}/p2p-circuit`;
      for (const n of ['n1', 'n2'] as const) {
        await pollUntil(`${n} relay reservation`, RESERVATION_BUDGET_MS, async () =>
          (await report(n)).relayAddresses.some((a) => a.includes(circuitVia)),
        );
      }
      assert.equal((await report('r')).relayReservations, 2, 'R holds the two reservations');
      // A first send needs the circuit address from the DHT: R, the relay, keeps none through itself
      // and hands out the LAN address alone, so wait until S (the other server) has both.
      await pollUntil('S knows N1’s and N2’s circuit addresses', RESERVATION_BUDGET_MS, async () => {
        for (const n of ['n1', 'n2'] as const) {
          const known = await p.s.call<string[]>('peer-addresses', { peer: ids[n].peerId });
          if (!known.some((a) => a.includes('/p2p-circuit'))) return false;
        }
        return true;
      });

      // (a) N1: AutoNAT never tells it it is public.
      const n1Report = await report('n1');
      const n1Observed = n1Report.addresses.filter((x) => x.type === 'observed');
      assert.deepEqual(n1Observed, [], 'N1 has no observed address (libp2p ignores TCP observed addresses)');
      // (its relay addresses start with R's public address: those are R's, not N1's)
      const n1Public = n1Report.addresses.filter(
        (x) => x.multiaddr.startsWith('/ip6/3fff') && !x.multiaddr.includes('/p2p-circuit') && x.verified,
      );
      assert.deepEqual(n1Public, [], 'no public address of N1 is confirmed');
      const n1Lan = n1Report.addresses.find((x) => x.multiaddr === tcp('n1'));
      assert.equal(n1Lan?.verified, true, 'N1’s LAN address (fd00::/8): counted as reachable without AutoNAT');
      assert.ok(
        n1Report.multiaddrs.every((m) => m.includes('/p2p-circuit') || m.startsWith('/ip6/fd00:')),
        `N1 advertises only its LAN and relay addresses: ${n1Report.multiaddrs}`,
      );
      // N1's AutoNAT client is notified of its connection to R (a dial-request server) as A's is
      assert.ok((await report('r')).protocols.includes('/libp2p/autonat/2/dial-request'), 'R serves AutoNAT v2');
      const n1Asks = logs('n1', /to verify multiaddrs/).length;
      const n1Tested = logs('n1', /creating dial result/).length;
      const n1Confirmed = logs('n1', /is externally dialable/).length;
      assert.equal(n1Asks, 0, 'N1’s AutoNAT asked no peer for a dial-back');
      assert.equal(n1Tested, 0, 'N1’s AutoNAT found no address to test');
      assert.equal(n1Confirmed, 0, 'N1’s AutoNAT confirmed no address');

      /**
       * A first message to a NATed node may find only its LAN address and stay `queued` (the DHT
       * answer is a race); the outbox would retry it later: the test asks for the retry at once,
       * bounded, until the message has arrived. How many sends were not delivered at once is printed.
       */
      const firstSend = async (from: Node, to: Node, text: string): Promise<{ sent: Sent; retries: number }> => {
        const sent = await p[from].call<Sent>('send', { to: ids[to].address, text });
        let retries = 0;
        const arrived = () => p[to].received.some((m) => m.id === sent.id);
        await pollUntil(`${text} arrives`, FIRST_SEND_BUDGET_MS, async () => {
          if (arrived() || sent.state === 'delivered') return arrived();
          retries++;
          await p[from].call('retry');
          return arrived();
        });
        return { sent, retries };
      };

      // (b) P → N1: first over the relay, then DCUtR.
      const tFirst = Date.now();
      const first = await firstSend('p', 'n1', 'P→N1 0');
      const toN1: Sent[] = [first.sent];
      const firstSendMs = Date.now() - tFirst;
      let direct: ConnectionReport | undefined;
      await pollUntil('DCUtR: a direct connection N1→P', DCUTR_BUDGET_MS, async () => {
        direct = (await report('n1')).connections.find((c) => c.peer === ids.p.peerId && isDirect(c));
        return direct !== undefined;
      });
      assert.ok(direct);
      assert.equal(direct.direction, 'outbound', 'N1 dialled P (through its NAT): nobody can dial N1');
      assert.ok(direct.remoteAddr.startsWith(pPublic), `to P's public address: ${direct.remoteAddr}`);
      const upgraded = logs('n1', /unilateral connection upgrade to .* succeeded/);
      assert.ok(upgraded.length > 0, 'libp2p DCUtR on N1 reports the unilateral upgrade');
      // the relayed connection came first: P reached N1 through R
      // the relayed connection came first: R spliced P's circuit to N1 before DCUtR replaced it
      const relayedAt = loggedAt('r', new RegExp(`connection from ${ids.p.peerId} to ${ids.n1.peerId} established`));
      const attemptAt = loggedAt('n1', /attempting unilateral connection upgrade/);
      const upgradedAt = loggedAt('n1', /unilateral connection upgrade to .* succeeded/);
      assert.ok(relayedAt !== undefined, 'R relayed a connection from P to N1');
      assert.ok(upgradedAt !== undefined && relayedAt <= upgradedAt, 'the relayed connection came before the upgrade');
      // DCUtR closes the relayed connection once the direct one is up
      const relayClosedMs = await pollUntil('N1 keeps no relayed connection to P', DCUTR_BUDGET_MS, async () =>
        (await report('n1')).connections.every((c) => c.peer !== ids.p.peerId || !isRelayed(c)),
      );
      const overDirect: Sent[] = [];
      for (let i = 1; i <= MESSAGES; i++) {
        overDirect.push(await p.p.call<Sent>('send', { to: ids.n1.address, text: `P→N1 ${i}` }));
      }
      await p.n1.waitFor(
        overDirect.map((s) => s.id),
        DELIVERY_BUDGET_MS,
      );

      // (c) N2 ↔ N1, both behind NAT66: relay only.
      const firstN2 = await firstSend('n2', 'n1', 'N2→N1 0');
      const n2ToN1: Sent[] = [firstN2.sent];
      for (let i = 1; i < MESSAGES; i++) {
        n2ToN1.push(await p.n2.call<Sent>('send', { to: ids.n1.address, text: `N2→N1 ${i}` }));
      }
      await p.n1.waitFor(
        n2ToN1.map((s) => s.id),
        DELIVERY_BUDGET_MS,
      );
      const n1ToN2: Sent[] = [];
      for (let i = 0; i < MESSAGES; i++) {
        n1ToN2.push(await p.n1.call<Sent>('send', { to: ids.n2.address, text: `N1→N2 ${i}` }));
      }
      await p.n2.waitFor(
        n1ToN2.map((s) => s.id),
        DELIVERY_BUDGET_MS,
      );
      const natDirect = [
        ...(await report('n1')).connections.filter((c) => c.peer === ids.n2.peerId && !c.limited),
        ...(await report('n2')).connections.filter((c) => c.peer === ids.n1.peerId && !c.limited),
      ];

      // Classify every arrival by the receiver's connections to the sender at that moment.
      const arrivals = (who: Node, sent: Sent[]): Received[] =>
        p[who].received.filter((m) => sent.some((s) => s.id === m.id));
      const path = (m: Received, peer: Node): 'relay' | 'direct' | 'both' => {
        const conns = m.connections.filter((c) => c.peer === ids[peer].peerId);
        if (conns.length > 0 && conns.every(isRelayed)) return 'relay';
        if (conns.length > 0 && conns.every(isDirect)) return 'direct';
        return 'both';
      };
      const tally = (list: Received[], peer: Node) => {
        const t = { relay: 0, direct: 0, both: 0 };
        for (const m of list) t[path(m, peer)]++;
        return t;
      };
      const firstTally = tally(arrivals('n1', toN1), 'p');
      const directTally = tally(arrivals('n1', overDirect), 'p');
      const n2Tally = tally(arrivals('n1', n2ToN1), 'n2');
      const n1Tally = tally(arrivals('n2', n1ToN2), 'n1');

      const all = [...toN1, ...overDirect, ...n2ToN1, ...n1ToN2];
      const counts = new Map<string, number>();
      for (const n of NODES) for (const m of p[n].received) counts.set(m.id, (counts.get(m.id) ?? 0) + 1);
      const duplicates = [...counts.values()].filter((c) => c > 1).length;
      const missing = all.filter((s) => !counts.has(s.id)).length;
      const notDelivered = all.filter((s) => s.state !== 'delivered').length;
      const n1Dcutr = logs('n1', /libp2p:dcutr/);
      const n2Dcutr = logs('n2', /libp2p:dcutr/);
      // A's client is also handed the server's dial-back connection itself (inbound, from the
      // server's ephemeral port) and asks again over it; the server closes it under that request
      const aAsks = logs('a', asked);
      const overDialBack = aAsks.filter((l) => !new RegExp(`asking \\S+/tcp/${PORT}/p2p/`).test(l)).length;
      console.log(
        `# dcutr: nodes up in ${seconds(startedMs)} s; AutoNAT v2: A's ${aPublic} verified ` +
          `${since(t0, loggedAt('a', confirmed))} after the start, ${since(loggedAt('a', asked) ?? t0, loggedAt('a', confirmed))} ` +
          `after its first dial-back request, by ${verifier.toUpperCase()} over a new inbound connection (A's report ` +
          `listed it verified ${seconds(verifiedMs)} s after all nodes were up); dial-back requests by A ${aAsks.length} ` +
          `(${overDialBack} of them over a server's dial-back connection), servers' dial-back errors ${serverErrors.length}; ` +
          `N1: observed addresses ${n1Observed.length}, confirmed public addresses ${n1Public.length}, addresses tested ` +
          `${n1Tested}, dial-back requests ${n1Asks}`,
      );
      for (const line of logs('a', /auto-nat-v2/).slice(0, 8)) console.log(`# dcutr: A ${short(line)}`);
      for (const line of serverErrors.slice(0, 4)) console.log(`# dcutr: server ${short(line)}`);
      console.log(
        `# dcutr: reservations on R: N1 ${since(t0, loggedAt('r', new RegExp(`new reservation for client ${ids.n1.peerId}`)))}, ` +
          `N2 ${since(t0, loggedAt('r', new RegExp(`new reservation for client ${ids.n2.peerId}`)))} after the start; ` +
          `first P→N1 message arrived ${seconds(firstSendMs)} s after send() (outbox retries asked: ${first.retries}, ` +
          `N2→N1: ${firstN2.retries}); direct N1→P connection opened ` +
          `${since(relayedAt, upgradedAt)} after R relayed P's connection (DCUtR dial ${since(attemptAt ?? relayedAt, upgradedAt)}), ` +
          `relayed one gone ${seconds(relayClosedMs)} s after the check`,
      );
      console.log(
        `# dcutr: P→N1 first message(s) relay/direct/both ${firstTally.relay}/${firstTally.direct}/${firstTally.both}, ` +
          `after the upgrade ${directTally.relay}/${directTally.direct}/${directTally.both}; ` +
          `N2→N1 ${n2Tally.relay}/${n2Tally.direct}/${n2Tally.both}, N1→N2 ${n1Tally.relay}/${n1Tally.direct}/${n1Tally.both}; ` +
          `N1–N2 direct connections ${natDirect.length}; sent ${all.length}, missing ${missing}, duplicates ${duplicates}, ` +
          `not delivered at once ${notDelivered}`,
      );
      for (const line of n1Dcutr.slice(0, 10)) console.log(`# dcutr: N1 ${short(line)}`);
      for (const line of n2Dcutr.slice(0, 4)) console.log(`# dcutr: N2 ${short(line)}`);

      assert.equal(directTally.direct, MESSAGES, 'after the upgrade every P→N1 message arrived over direct only');
      assert.equal(n2Tally.relay, MESSAGES, 'N2→N1 arrived over relayed connections only');
      assert.equal(n1Tally.relay, MESSAGES, 'N1→N2 arrived over relayed connections only');
      assert.deepEqual(natDirect, [], 'no direct connection between two hosts behind NAT66');
      assert.equal(missing, 0, 'every message arrived');
      assert.equal(duplicates, 0, 'no message reached the app twice');
    } catch (err) {
      for (const n of NODES) {
        for (const l of (p[n]?.logs ?? []).slice(-40)) console.log(`# dcutr log ${n}: ${l.line}`);
      }
      throw err;
    } finally {
      await cluster.cleanup();
    }
  });
});

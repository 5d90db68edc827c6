/**
 * Reaching nodes behind NAT (issue 6), in Linux network namespaces (test/system/netns.ts):
 *
 *   WAN 10.213.7.0/24:  R  relay (circuit relay v2 server, DHT server)
 *                       S  DHT server
 *                       P  public sender (DHT client: no NATed node ever learns its address
 *                          before P contacts it, so the first contact has to come through R)
 *                       rt1, rt2  routers (MASQUERADE out of wan0, only replies back in)
 *   LAN 10.213.8.0/24:  N1 behind rt1      LAN 10.213.9.0/24:  N2 behind rt2
 *
 * N1 and N2 listen on their LAN address and on `/p2p-circuit`, are DHT clients and bootstrap from R.
 * The WAN has no route into either LAN: they can be reached only through the relay.
 *
 * What is asserted, in order:
 * 1. Transport stack: every node handles AutoNAT v2 (its server's dial-request and its client's
 *    dial-back protocol), DCUtR and the relay STOP protocol; only R the relay HOP protocol.
 * 2. N1 and N2 hold a reservation on R and advertise a `/p2p-circuit` address through it.
 * 3. AutoNAT: it leaves N1 alone. Every address N1 has is private (its LAN address; the router's
 *    WAN address it is seen from is private too, and libp2p drops private observed addresses) or
 *    its relay address (confirmed by the reservation), libp2p counts private addresses as
 *    reachable without asking, and AutoNAT v2 never tests a private address (its client skips
 *    them, its server refuses to dial them). So N1 has no observed address, and its AutoNAT
 *    client, which libp2p notifies of each of N1's connections to a peer serving dial requests
 *    (R is one), finds nothing to test: no node logs a dial result or a dial-back request (the
 *    trace lines test/system/dcutr.test.ts sees its public node log with the same DEBUG list),
 *    and no address is confirmed by AutoNAT. It cannot conclude "not publicly dialable" either:
 *    that verdict takes 8 failed dial-backs of an address. See docs/ARCHITECTURE.md, "src/net/ —
 *    transport".
 * 4. P sends to N1: P finds N1's circuit address through the DHT (S hands it out; R, the relay,
 *    keeps no circuit address through itself and hands out N1's LAN address alone, so P's host
 *    retries a failed dial with every address a fresh lookup finds), every message arrives once,
 *    over a relayed (limited) connection: /sotto/msg/1.0.0 and /sotto/prekeys/1.0.0 run on limited
 *    connections.
 * 5. DCUtR: N1, the inbound side of the relayed connection, runs the upgrade: it finds no public
 *    address of P to dial (unilateral upgrade), sends CONNECT over the relay, and P refuses: every
 *    address N1 offers is private, and js-libp2p's DCUtR only dials addresses it considers public.
 *    So no direct connection appears through DCUtR here, by design of the library rather than by
 *    luck of the NAT; with public addresses a public sender would get one by the unilateral path,
 *    while TCP hole punching between two MASQUERADE routers would still fail (Node's TCP dials
 *    from a fresh ephemeral port, not the port the peer observed). The test checks the attempt
 *    was made (libp2p's DCUtR log lines: the log wording is the library's, not ours) and that the
 *    relayed path keeps working; it prints whether a direct connection appeared.
 *    test/system/dcutr.test.ts runs these roles over IPv6 in the documentation prefix 3fff::/20,
 *    which libp2p does not count as private: there DCUtR's unilateral upgrade does give a direct
 *    connection, and AutoNAT v2 does ask for a dial-back and verifies a public node's address.
 * 6. Both ends behind NAT: N2 → N1 and N1 → N2, relayed both ways, each message once.
 * 7. R's duration limit (RELAY_DURATION_MS) resets the relayed connection P → N1; the next message
 *    goes through on a new relayed connection.
 * 8. N1 → P: N1 can dial out through its NAT, so the reply opens a direct connection.
 *
 * Needs root, `ip netns` (iproute2) and iptables (router namespaces); fails, never skips, without
 * them. The NAT rules, IP forwarding and the filter exist only inside the router namespaces. This
 * process starts no node: the test network's addresses are only ever dialled from inside it.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { ConnectionReport, TransportReport } from '../../src/net/index.js';
import { MIN_RELAY_DURATION_MS } from '../../src/net/index.js';
import { Cluster, NodeProcess, pollUntil, type Received, seconds } from './cluster.js';
import { createNetwork, requireIptables, requireNetns, routerNatRules } from './netns.js';

/** Private /24s no other test uses (partition: 10.213.5, chat: 10.213.6). */
const SEGMENTS = { wan: '10.213.7', lan1: '10.213.8', lan2: '10.213.9' };
const PORT = 4101;
const NODES = ['r', 's', 'p', 'n1', 'n2'] as const;
type Node = (typeof NODES)[number];
/** R resets a relayed connection after this long (short, so step 7 sees it happen). */
const RELAY_DURATION_MS = 20_000;
const MESSAGES = 5;
/** Bounds. */
const RESERVATION_BUDGET_MS = 60_000;
const FIRST_SEND_BUDGET_MS = 90_000;
const DELIVERY_BUDGET_MS = 60_000;
const DCUTR_BUDGET_MS = 30_000;
const RESET_BUDGET_MS = RELAY_DURATION_MS + 30_000;
const TEST_TIMEOUT_MS = 8 * 60_000;
/**
 * libp2p's log namespaces the children write to stderr (SOTTO_NAT_DEBUG replaces the list when
 * looking into a failure, e.g. adding `libp2p:connection-manager:dial-queue`). They and the nodes'
 * own log lines are kept per node, printed in part on success and the last lines of each on failure.
 */
const DEBUG =
  process.env.SOTTO_NAT_DEBUG ??
  // AutoNAT v2's requests and results are trace lines: libp2p logs those only for names ending in `:trace`
  'libp2p:dcutr*,libp2p:auto-nat-v2*,libp2p:auto-nat-v2:client:trace,libp2p:circuit-relay*,' +
    '-libp2p:dcutr:trace,-libp2p:circuit-relay*:trace';
const CAPTURE = /libp2p|^sotto:|^\s+at |^\s*['\]]/;
/** AutoNAT v2: the server handles dial requests, the client the dial-backs it asked for. */
const AUTONAT_DIAL_REQUEST = '/libp2p/autonat/2/dial-request';
const AUTONAT_DIAL_BACK = '/libp2p/autonat/2/dial-back';
const DCUTR = '/libp2p/dcutr';
const HOP = '/libp2p/circuit/relay/0.2.0/hop';
const STOP = '/libp2p/circuit/relay/0.2.0/stop';

const cluster = new Cluster();
after(() => cluster.cleanup());

type Sent = { id: string; state: string };
const isRelayed = (c: ConnectionReport) => c.limited && c.remoteAddr.includes('/p2p-circuit');

describe('NAT: circuit relay v2, DCUtR and AutoNAT (network namespaces)', () => {
  it('a node behind NAT is reached through a relay; DCUtR tries to upgrade; the relayed path keeps working', {
    timeout: TEST_TIMEOUT_MS,
  }, async () => {
    await requireNetns(); // fails (not skips) without root or `ip netns`
    await requireIptables(); // fails (not skips) without iptables for the routers
    assert.ok(RELAY_DURATION_MS >= MIN_RELAY_DURATION_MS);
    const p = {} as Record<Node, NodeProcess>;
    try {
      const ids = {} as Record<Node, { dataDir: string; address: string; peerId: string }>;
      for (const n of NODES) ids[n] = await cluster.identity(`nat-${n}`);
      cluster.network = await createNetwork({
        segments: SEGMENTS,
        hosts: [
          { name: 'r', segment: 'wan' },
          { name: 's', segment: 'wan' },
          { name: 'p', segment: 'wan' },
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
        assert.match(await routerNatRules(net, rt), /-A POSTROUTING -o wan0 -j MASQUERADE/, `${rt} masquerades`);
      }
      const ip = (n: Node) => net.hosts[n]?.address as string;
      const addr = (n: Node) => `/ip4/${ip(n)}/tcp/${PORT}/p2p/${ids[n].peerId}`;
      const nets: Record<Node, object> = {
        r: { listen: [`/ip4/${ip('r')}/tcp/${PORT}`], relay: { enabled: true, maxDurationMs: RELAY_DURATION_MS } },
        s: { listen: [`/ip4/${ip('s')}/tcp/${PORT}`], bootstrap: [addr('r')] },
        p: { listen: [`/ip4/${ip('p')}/tcp/${PORT}`], bootstrap: [addr('r')], dhtMode: 'client' },
        n1: { listen: [`/ip4/${ip('n1')}/tcp/${PORT}`, '/p2p-circuit'], bootstrap: [addr('r')], dhtMode: 'client' },
        n2: { listen: [`/ip4/${ip('n2')}/tcp/${PORT}`, '/p2p-circuit'], bootstrap: [addr('r')], dhtMode: 'client' },
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
      const t0 = Date.now();
      const upMs = {} as Record<Node, number>;
      const up = async (n: Node) => {
        await p[n].start();
        upMs[n] = Date.now() - t0;
      };
      await up('r');
      await Promise.all((['s', 'p', 'n1', 'n2'] as const).map(up));
      const startedMs = Date.now() - t0;

      // 1. The transport stack.
      for (const n of NODES) {
        const { protocols } = await report(n);
        for (const proto of [AUTONAT_DIAL_REQUEST, AUTONAT_DIAL_BACK, DCUTR, STOP]) {
          assert.ok(protocols.includes(proto), `${n} handles ${proto}`);
        }
        assert.equal(protocols.includes(HOP), n === 'r', `only the relay handles ${HOP} (${n})`);
      }

      // 2. Reservations on R, advertised as /p2p-circuit addresses.
      const circuitVia = `/p2p/${ids.r.peerId}/p2p-circuit`;
      const reservedMs: Record<string, number> = {};
      for (const n of ['n1', 'n2'] as const) {
        reservedMs[n] = await pollUntil(`${n} relay reservation`, RESERVATION_BUDGET_MS, async () =>
          (await report(n)).relayAddresses.some((a) => a.includes(circuitVia)),
        );
      }
      const relayReport = await report('r');
      assert.equal(relayReport.relayReservations, 2, 'R holds the two reservations');
      const n1Report = await report('n1');
      assert.ok(
        n1Report.relayAddresses.every((a) => a.includes(circuitVia) && a.endsWith(`/p2p/${ids.n1.peerId}`)),
        `N1's circuit addresses go through R: ${n1Report.relayAddresses}`,
      );

      // What the DHT servers hand out for N1 when asked. The relay keeps no circuit address through
      // itself, so R hands out N1's LAN address alone; S has the circuit address too.
      let serversKnew: string[][] = [];
      const serversLearnedMs = await pollUntil(
        'a DHT server knows N1’s circuit address',
        RESERVATION_BUDGET_MS,
        async () => {
          serversKnew = await Promise.all(
            (['r', 's'] as const).map((n) => p[n].call<string[]>('peer-addresses', { peer: ids.n1.peerId })),
          );
          return serversKnew.some((list) => list.some((a) => a.includes('/p2p-circuit')));
        },
      );

      // 3. AutoNAT leaves N1 alone: nothing public to test.
      const observed = n1Report.addresses.filter((a) => a.type === 'observed');
      assert.deepEqual(observed, [], 'libp2p drops the private address N1 is observed from (the router WAN)');
      const lan = n1Report.addresses.find((a) => a.multiaddr.startsWith(`/ip4/${ip('n1')}/tcp/${PORT}`));
      assert.ok(lan?.verified === true, 'N1 LAN address: counted as reachable without AutoNAT (private)');
      assert.ok(
        n1Report.addresses.every((a) => a.verified),
        `every address of N1 counts as reachable without AutoNAT: ${n1Report.addresses.map((a) => a.multiaddr)}`,
      );
      // N1's AutoNAT client is handed each of its connections to R, which serves dial requests
      assert.ok(relayReport.protocols.includes(AUTONAT_DIAL_REQUEST), 'R serves AutoNAT v2 dial requests');
      const count = (n: Node, re: RegExp) => p[n].logs.filter((l) => re.test(l.line)).length;
      /** AutoNAT v2 client: an address taken up for testing, a dial-back requested, an address confirmed. */
      const autonatTested = (n: Node) => count(n, /auto-nat-v2:client.* creating dial result/);
      const autonatAsks = (n: Node) => count(n, /auto-nat-v2:client.* asking .* to verify multiaddrs/);
      const autonatConfirmed = (n: Node) => count(n, /auto-nat-v2:client.* is externally dialable/);

      // 4. P → N1 through the relay.
      const tFirst = Date.now();
      const toN1: Sent[] = [];
      await pollUntil('first send P→N1', FIRST_SEND_BUDGET_MS, async () => {
        toN1.push(await p.p.call<Sent>('send', { to: ids.n1.address, text: 'P→N1 0' }));
        return true;
      });
      const firstSendMs = Date.now() - tFirst;
      console.log(`# nat: first P→N1 sends ${toN1.map((s) => s.state)}`);
      for (let i = 1; i < MESSAGES; i++)
        toN1.push(await p.p.call<Sent>('send', { to: ids.n1.address, text: `P→N1 ${i}` }));
      await p.n1.waitFor(
        toN1.map((s) => s.id),
        DELIVERY_BUDGET_MS,
      );
      const arrivals = (who: Node, from: Node, sent: Sent[]): Received[] =>
        who === from ? [] : p[who].received.filter((m) => sent.some((s) => s.id === m.id));
      const viaRelay = (m: Received, peer: Node) => {
        const conns = m.connections.filter((c) => c.peer === ids[peer].peerId);
        return conns.length > 0 && conns.every(isRelayed);
      };
      assert.deepEqual(
        toN1.map((s) => s.state),
        Array(MESSAGES).fill('delivered'),
        'P→N1 delivered',
      );
      assert.ok(
        arrivals('n1', 'p', toN1).every((m) => viaRelay(m, 'p')),
        'every P→N1 message arrived while N1 and P had only relayed connections',
      );

      // 5. DCUtR: the attempt, and whether it produced a direct connection.
      const dcutrMs = await pollUntil('DCUtR attempt N1→P', DCUTR_BUDGET_MS, async () =>
        p.n1.logs.some((l) => /B sending connect to/.test(l.line)),
      );
      const n1Dcutr = p.n1.logs.filter((l) => l.line.includes('libp2p:dcutr')).map((l) => l.line);
      const pDcutr = p.p.logs.filter((l) => l.line.includes('libp2p:dcutr')).map((l) => l.line);
      assert.ok(
        n1Dcutr.some((l) => /no public addresses, not attempting unilateral connection upgrade/.test(l)),
        'N1 found no public address of P for the unilateral upgrade',
      );
      assert.ok(
        pDcutr.some((l) => /A receiving connect/.test(l)),
        'P received the CONNECT over the relayed connection',
      );
      const directNow = (r: TransportReport, peer: Node) =>
        r.connections.filter((c) => c.peer === ids[peer].peerId && !c.limited);
      const dcutrDirect = directNow(await report('n1'), 'p').length > 0;
      const moreToN1: Sent[] = [];
      for (let i = 0; i < MESSAGES; i++) {
        moreToN1.push(await p.p.call<Sent>('send', { to: ids.n1.address, text: `P→N1 after DCUtR ${i}` }));
      }
      await p.n1.waitFor(
        moreToN1.map((s) => s.id),
        DELIVERY_BUDGET_MS,
      );
      if (!dcutrDirect) {
        assert.ok(
          arrivals('n1', 'p', moreToN1).every((m) => viaRelay(m, 'p')),
          'after the failed upgrade, P→N1 still goes over the relay',
        );
      }

      // 6. Both ends behind NAT.
      const n2ToN1: Sent[] = [];
      await pollUntil('first send N2→N1', FIRST_SEND_BUDGET_MS, async () => {
        n2ToN1.push(await p.n2.call<Sent>('send', { to: ids.n1.address, text: 'N2→N1 0' }));
        return true;
      });
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
      assert.ok(
        arrivals('n1', 'n2', n2ToN1).every((m) => viaRelay(m, 'n2')),
        'N2→N1 arrived over relayed connections only',
      );
      assert.ok(
        arrivals('n2', 'n1', n1ToN2).every((m) => viaRelay(m, 'n1')),
        'N1→N2 arrived over relayed connections only',
      );
      const natDirect = directNow(await report('n1'), 'n2').length > 0;
      assert.equal(natDirect, false, 'no direct connection between two hosts behind NAT');

      // 7. R's duration limit resets the relayed P–N1 connection; the path comes back.
      const before = (await report('n1')).connections.filter((c) => c.peer === ids.p.peerId && isRelayed(c));
      const firstRelayed = before.map((c) => c.id);
      const oldest = Math.min(...before.map((c) => c.openedAt));
      await pollUntil('R resets the relayed connection P–N1', RESET_BUDGET_MS, async () => {
        const now = (await report('n1')).connections.map((c) => c.id);
        return firstRelayed.every((id) => !now.includes(id));
      });
      const lifetimeMs = Date.now() - oldest;
      const afterReset = await p.p.call<Sent>('send', { to: ids.n1.address, text: 'P→N1 after the reset' });
      await p.n1.waitFor([afterReset.id], DELIVERY_BUDGET_MS);
      const resetArrival = p.n1.received.find((m) => m.id === afterReset.id);
      assert.ok(resetArrival && viaRelay(resetArrival, 'p'), 'after the reset: over a new relayed connection');
      assert.ok(
        resetArrival.connections.filter((c) => c.peer === ids.p.peerId).every((c) => !firstRelayed.includes(c.id)),
        'the old relayed connection is gone',
      );

      // 8. N1 → P: N1 dials out through its NAT.
      const reply = await p.n1.call<Sent>('send', { to: ids.p.address, text: 'N1→P' });
      await p.p.waitFor([reply.id], DELIVERY_BUDGET_MS);
      const replyArrival = p.p.received.find((m) => m.id === reply.id);
      const replyDirect = replyArrival?.connections.some((c) => c.peer === ids.n1.peerId && !c.limited) ?? false;

      // Exactly once, everywhere.
      const all = [...toN1, ...moreToN1, ...n2ToN1, ...n1ToN2, afterReset, reply];
      const counts = new Map<string, number>();
      for (const n of NODES) for (const m of p[n].received) counts.set(m.id, (counts.get(m.id) ?? 0) + 1);
      const duplicates = [...counts.values()].filter((c) => c > 1).length;
      const missing = all.filter((s) => !counts.has(s.id)).length;
      const states = [...new Set(all.map((s) => s.state))].join(',');
      const label = new Map<string, string>([
        ...toN1.map((s, i) => [s.id, `P→N1 #${i}`] as const),
        ...moreToN1.map((s, i) => [s.id, `P→N1 after DCUtR #${i}`] as const),
        ...n2ToN1.map((s, i) => [s.id, `N2→N1 #${i}`] as const),
        ...n1ToN2.map((s, i) => [s.id, `N1→N2 #${i}`] as const),
        [afterReset.id, 'P→N1 after the reset'],
        [reply.id, 'N1→P'],
      ]);
      const notDelivered = all.filter((s) => s.state !== 'delivered').map((s) => `${label.get(s.id)} ${s.state}`);
      console.log(
        `# nat: nodes up in ${seconds(startedMs)} s (${NODES.map((n) => `${n} ${seconds(upMs[n])}`).join(', ')}); reservations N1 ${seconds(reservedMs.n1 ?? 0)} s, ` +
          `N2 ${seconds(reservedMs.n2 ?? 0)} s after start (R holds ${relayReport.relayReservations}); ` +
          `N1 in the peer stores of R: ${serversKnew[0]?.join(' ')}, of S: ${serversKnew[1]?.join(' ')} ` +
          `(a circuit address at a server after ${seconds(serversLearnedMs)} s); ` +
          `N1 addresses ${n1Report.addresses.map((a) => `${a.multiaddr}[${a.type}${a.verified ? ',verified' : ''}]`).join(' ')}; ` +
          `AutoNAT v2 addresses tested / dial-back requests / confirmed: ${NODES.map((n) => `${n.toUpperCase()} ${autonatTested(n)}/${autonatAsks(n)}/${autonatConfirmed(n)}`).join(', ')}; ` +
          `first P→N1 send ${seconds(firstSendMs)} s; P→N1 ${toN1.length + moreToN1.length + 1}, ` +
          `N2→N1 ${n2ToN1.length}, N1→N2 ${n1ToN2.length}, N1→P 1: sent ${all.length}, missing ${missing}, ` +
          `duplicates ${duplicates}, states ${states}${notDelivered.length > 0 ? ` (${notDelivered.join(', ')})` : ''}; DCUtR attempt seen ${seconds(dcutrMs)} s after the sends, ` +
          `direct connection from DCUtR: ${dcutrDirect ? 'yes' : 'no'} (N1: ${n1Dcutr.length} dcutr log lines, ` +
          `P: ${pDcutr.length}); N1–N2 direct: ${natDirect ? 'yes' : 'no'}; relayed connection reset by R after ` +
          `${seconds(lifetimeMs)} s (limit ${seconds(RELAY_DURATION_MS)} s); N1→P reply over a direct connection: ` +
          `${replyDirect ? 'yes' : 'no'}`,
      );
      for (const line of n1Dcutr.slice(0, 12)) console.log(`# nat: N1 ${line.replace(/^\S+\s+/, '')}`);
      for (const line of pDcutr.slice(0, 6)) console.log(`# nat: P  ${line.replace(/^\S+\s+/, '')}`);

      assert.equal(missing, 0, 'every message arrived');
      assert.equal(duplicates, 0, 'no message reached the app twice');
      assert.deepEqual(notDelivered, [], 'every send delivered at once');
      for (const n of NODES) {
        assert.equal(autonatTested(n), 0, `${n}'s AutoNAT found no address to test (all private)`);
        assert.equal(autonatAsks(n), 0, `${n}'s AutoNAT asked no peer for a dial-back`);
        assert.equal(autonatConfirmed(n), 0, `${n}'s AutoNAT confirmed no address`);
      }
      assert.ok(lifetimeMs < RESET_BUDGET_MS + RELAY_DURATION_MS);
    } catch (err) {
      for (const n of NODES) {
        for (const l of (p[n]?.logs ?? []).slice(-60)) console.log(`# nat log ${n}: ${l.line}`);
      }
      throw err;
    } finally {
      await cluster.cleanup();
    }
  });
});

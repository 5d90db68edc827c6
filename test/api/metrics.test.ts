import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { createNodeMetrics, NODE_METRIC_NAMES } from '../../src/api/metrics.js';
import { FakeNode, messageId, randomAddress } from './fake-node.js';

async function value(registry: Registry, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = registry.getSingleMetric(name);
  assert.ok(metric, `${name} registered`);
  const data = await metric.get();
  const sample = data.values.find((v) =>
    Object.entries(labels).every(([k, l]) => String((v.labels as Record<string, unknown>)[k]) === l),
  );
  assert.ok(sample, `${name} ${JSON.stringify(labels)} has a sample`);
  return sample.value;
}

describe('API node metrics', () => {
  it('registers every sotto_* metric in the given registry', async () => {
    const registry = new Registry();
    const metrics = createNodeMetrics(new FakeNode(), registry);
    assert.equal(metrics.registry, registry);
    const names = registry.getMetricsAsArray().map((m) => m.name);
    assert.deepEqual(names.sort(), [...NODE_METRIC_NAMES].sort());
    metrics.dispose();
  });

  it('counts deliveries by state: progress as sent, queued/failed as failed', async () => {
    const node = new FakeNode();
    const { registry, dispose } = createNodeMetrics(node);
    for (const state of ['delivered', 'delivered', 'stored-at-mailbox', 'queued', 'failed'] as const) {
      node.emit('delivery', { id: messageId(), to: randomAddress(), state });
    }
    assert.equal(await value(registry, 'sotto_messages_sent_total', { state: 'delivered' }), 2);
    assert.equal(await value(registry, 'sotto_messages_sent_total', { state: 'stored-at-mailbox' }), 1);
    assert.equal(await value(registry, 'sotto_messages_failed_total', { state: 'queued' }), 1);
    assert.equal(await value(registry, 'sotto_messages_failed_total', { state: 'failed' }), 1);
    dispose();
  });

  it('reads the gauges from status() once per scrape, and keeps the last values when it fails', async () => {
    const node = new FakeNode();
    let calls = 0;
    const status = node.status.bind(node);
    node.status = () => {
      calls++;
      return status();
    };
    const { registry, dispose } = createNodeMetrics(node);
    const text = await registry.metrics();
    assert.equal(calls, 1);
    assert.ok(text.includes('sotto_outbox_depth 2'));
    assert.ok(text.includes('sotto_one_time_prekeys{state="claimed"} 2'));
    node.running = false;
    const stale = await registry.metrics();
    assert.ok(stale.includes('sotto_outbox_depth 2'));
    dispose();
  });

  it('dispose() stops counting and removes the metrics, so they can be created again', async () => {
    const node = new FakeNode();
    const registry = new Registry();
    const first = createNodeMetrics(node, registry);
    for (const event of ['message', 'delivery', 'handshake', 'lookup'] as const) {
      assert.equal(node.listenerCount(event), 1, event);
    }
    first.dispose();
    first.dispose();
    for (const event of ['message', 'delivery', 'handshake', 'lookup'] as const) {
      assert.equal(node.listenerCount(event), 0, event);
    }
    assert.equal(registry.getMetricsAsArray().length, 0);
    const second = createNodeMetrics(node, registry);
    node.emit('handshake', { role: 'initiator' });
    assert.equal(await value(registry, 'sotto_handshakes_total', { role: 'initiator' }), 1);
    second.dispose();
  });
});

/**
 * Summarizes a V8 CPU profile (`.cpuprofile`, as written by --cpu-prof or node:inspector) into self
 * time per component: an npm package, a folder of sotto's src/, Node internals, or V8's own
 * (garbage collector, program, idle).
 */
import { readFileSync } from 'node:fs';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileShare {
  name: string;
  /** Share of the busy (non-idle) samples, 0..1. */
  share: number;
}

export interface ProfileSummary {
  /** Wall time covered by the profile, ms. */
  wallMs: number;
  /** Share of the samples that were not idle, 0..1. */
  busy: number;
  components: ProfileShare[];
  functions: ProfileShare[];
}

/** `…/node_modules/@scope/pkg/…` → `@scope/pkg`; `…/src/node/node.ts` → `sotto src/node`. */
export function componentOf(url: string, functionName: string): string {
  if (url === '') {
    if (functionName === '(garbage collector)' || functionName === '(program)' || functionName === '(idle)') {
      return functionName;
    }
    return '(native / V8 builtins)';
  }
  const nm = url.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + '/node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1] ?? ''}` : (rest[0] ?? url);
  }
  if (url.startsWith('node:')) return 'Node internals (node:*)';
  const src = /\/src\/([^/]+)\//.exec(url);
  if (src) return `sotto src/${src[1]}`;
  if (url.includes('/scripts/bench/')) return 'benchmark harness';
  return url.replace(/^file:\/\//, '');
}

export function summarizeProfile(path: string, top = 10): ProfileSummary {
  const profile = JSON.parse(readFileSync(path, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const weight = new Map<number, number>();
  // A sample's weight is the time until the next sample.
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i]!;
    const dt = profile.timeDeltas[i + 1] ?? 0;
    weight.set(id, (weight.get(id) ?? 0) + Math.max(0, dt));
  }
  const parentOf = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parentOf.set(c, n.id);
  /**
   * A native call (an addon's C++ or a Node binding) has no URL and often a wrong name (the profiler
   * picks a nearby symbol): charge it to the nearest JavaScript caller's component.
   */
  const nativeComponent = (id: number): string | undefined => {
    for (let cur = parentOf.get(id); cur !== undefined; cur = parentOf.get(cur)) {
      const url = byId.get(cur)?.callFrame.url ?? '';
      if (url === '') continue;
      if (url.includes('stream_base_commons')) return 'TCP socket writes (native, node:net)';
      return `${componentOf(url, '')} (native code)`;
    }
    return undefined;
  };
  const components = new Map<string, number>();
  const functions = new Map<string, number>();
  let idle = 0;
  let total = 0;
  for (const [id, w] of weight) {
    const n = byId.get(id);
    if (!n) continue;
    total += w;
    const { url, functionName, lineNumber } = n.callFrame;
    if (functionName === '(idle)') {
      idle += w;
      continue;
    }
    const native = url === '' && !functionName.startsWith('(') ? nativeComponent(id) : undefined;
    const component = native ?? componentOf(url, functionName);
    components.set(component, (components.get(component) ?? 0) + w);
    const short = url === '' ? '' : ` ${url.split('/').slice(-2).join('/')}:${lineNumber + 1}`;
    const fn = native ? `[${native}]` : `${functionName || '(anonymous)'}${short}`;
    functions.set(fn, (functions.get(fn) ?? 0) + w);
  }
  const busyTotal = total - idle;
  const rank = (m: Map<string, number>) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, w]) => ({ name, share: busyTotal > 0 ? w / busyTotal : 0 }));
  return {
    wallMs: (profile.endTime - profile.startTime) / 1000,
    busy: total > 0 ? busyTotal / total : 0,
    components: rank(components),
    functions: rank(functions),
  };
}

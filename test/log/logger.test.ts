/** The structured logger: JSON lines, components, levels, silent, redaction, the pretty format. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  createLogger,
  formatLogCall,
  type LogFormat,
  type LogLevel,
  REDACT_PATHS,
  type SottoLogger,
  silentLogger,
} from '../../src/log/index.js';
import type { NetLogger } from '../../src/net/logger.js';

function capture(level: LogLevel, format: LogFormat = 'json', component?: string) {
  const lines: string[] = [];
  const destination = { write: (chunk: string) => void lines.push(chunk) };
  const log = createLogger({ level, format, destination, component });
  const records = () => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { log, lines, records };
}

describe('json format', () => {
  it('one JSON line per call with level, time, component and msg', () => {
    const { log, lines, records } = capture('debug');
    log.info('started');
    log.child('net').warn('dial failed');
    log.child('net').child('dht').debug('query');
    log.error('oops');
    assert.equal(lines.length, 4);
    for (const line of lines) assert.ok(line.endsWith('\n') && line.indexOf('\n') === line.length - 1);
    const [a, b, c, d] = records();
    assert.deepEqual(
      [a, b, c, d].map((r) => [r?.level, r?.component, r?.msg]),
      [
        ['info', 'sotto', 'started'],
        ['warn', 'net', 'dial failed'],
        ['debug', 'net.dht', 'query'],
        ['error', 'sotto', 'oops'],
      ],
    );
    assert.match(String(a?.time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.deepEqual(Object.keys(a ?? {}), ['level', 'time', 'component', 'msg']);
  });

  it('printf placeholders, structured fields and errors', () => {
    const { log, records } = capture('info');
    const err = Object.assign(new TypeError('bad frame'), { code: 'FRAME_TOO_LARGE' });
    log.info('dial to %s failed: %s (%d tries, 100%%)', '/ip4/127.0.0.1/tcp/1', 'Timeout', 3, { peer: '12D3Koo' }, err);
    const [r] = records();
    assert.equal(r?.msg, 'dial to /ip4/127.0.0.1/tcp/1 failed: Timeout (3 tries, 100%)');
    assert.equal(r?.peer, '12D3Koo');
    assert.deepEqual(r?.err, { type: 'TypeError', message: 'bad frame', code: 'FRAME_TOO_LARGE' });
    assert.equal(r?.component, 'sotto');
  });

  it('argument fields cannot overwrite level, time, component or msg', () => {
    const { log, records } = capture('info');
    log.info('x', { level: 'fatal', component: 'evil', msg: 'forged', time: 0, n: 1 });
    const [r] = records();
    assert.equal(r?.level, 'info');
    assert.equal(r?.component, 'sotto');
    assert.equal(r?.msg, 'x');
    assert.equal(r?._component, 'evil');
    assert.equal(r?.n, 1);
  });

  it('bindings go on every line', () => {
    const lines: string[] = [];
    const log = createLogger({
      level: 'info',
      format: 'json',
      destination: { write: (l) => void lines.push(l) },
      bindings: { node: 'n3' },
    });
    log.child('api').info('up');
    assert.equal(JSON.parse(lines[0] ?? '').node, 'n3');
  });
});

describe('levels', () => {
  it('lower-priority calls are dropped', () => {
    const { log, records } = capture('warn');
    log.debug('d');
    log.info('i');
    log.warn('w');
    log.error('e');
    assert.deepEqual(
      records().map((r) => r.level),
      ['warn', 'error'],
    );
    assert.equal(log.isLevelEnabled('info'), false);
    assert.equal(log.isLevelEnabled('error'), true);
    assert.equal(log.level, 'warn');
    assert.equal(log.child('x').level, 'warn');
  });

  it('silent writes nothing, in either format', () => {
    for (const format of ['json', 'pretty'] as const) {
      const { log, lines } = capture('silent', format);
      log.error('nothing');
      log.child('net').error('nothing', { a: 1 });
      log.flush();
      assert.deepEqual(lines, []);
      assert.equal(log.isLevelEnabled('error'), false);
    }
    const quiet = silentLogger();
    quiet.error('x');
    assert.equal(quiet.level, 'silent');
  });

  it('rejects unknown levels, formats and bad component names', () => {
    assert.throws(() => createLogger({ level: 'trace' as LogLevel, format: 'json' }), RangeError);
    assert.throws(() => createLogger({ level: 'info', format: 'xml' as LogFormat }), RangeError);
    const { log } = capture('info');
    for (const bad of ['', 'has space', 'new\nline', 'x'.repeat(65), '-lead']) {
      assert.throws(() => log.child(bad), RangeError, JSON.stringify(bad));
    }
    assert.throws(() => createLogger({ level: 'info', format: 'json', bindings: { msg: 'x' } }), RangeError);
  });
});

describe('redaction', () => {
  it('secret-named fields are censored at the top level and one level down', () => {
    const { log, lines, records } = capture('debug');
    log.debug('received', {
      id: 'm1',
      privateKey: 'PK-SECRET',
      passphrase: 'PASS-SECRET',
      body: 'BODY-SECRET',
      envelope: { text: 'TEXT-SECRET', plaintext: 'PLAIN-SECRET', size: 12 },
      auth: { token: 'TOKEN-SECRET', secret: 'S-SECRET' },
    });
    const text = lines.join('');
    for (const secret of ['PK-', 'PASS-', 'BODY-', 'TEXT-', 'PLAIN-', 'TOKEN-', 'S-SECRET']) {
      assert.ok(!text.includes(secret), secret);
    }
    const [r] = records();
    assert.equal(r?.id, 'm1');
    assert.equal(r?.privateKey, '[redacted]');
    assert.deepEqual(r?.envelope, { text: '[redacted]', plaintext: '[redacted]', size: 12 });
    assert.deepEqual(r?.auth, { token: '[redacted]', secret: '[redacted]' });
    for (const name of ['privateKey', 'secret', 'token', 'passphrase', 'body', 'text', 'plaintext']) {
      assert.ok(REDACT_PATHS.includes(`*.${name}`), name);
    }
  });

  it('also in the pretty format', () => {
    const { log, lines } = capture('info', 'pretty');
    log.child('store').info('opened', { passphrase: 'hunter2', n: 3 });
    assert.ok(!lines.join('').includes('hunter2'));
    assert.match(lines[0] ?? '', / passphrase="\[redacted\]" n=3\n$/);
  });
});

describe('pretty format', () => {
  it('HH:MM:SS.mmm LEVEL component message k=v', () => {
    const { log, lines } = capture('debug', 'pretty');
    log.child('net').info('connected to %s', '12D3KooW', { peers: 3, addr: '/ip4/127.0.0.1/tcp/1', note: 'two words' });
    log.child('api').child('ws').warn('slow');
    log.error('failed', new Error('boom'));
    log.debug('d');
    assert.match(
      lines[0] ?? '',
      /^\d\d:\d\d:\d\d\.\d{3} INFO {2}net connected to 12D3KooW peers=3 addr=\/ip4\/127\.0\.0\.1\/tcp\/1 note="two words"\n$/,
    );
    assert.match(lines[1] ?? '', /^\d\d:\d\d:\d\d\.\d{3} WARN {2}api\.ws slow\n$/);
    assert.match(lines[2] ?? '', / ERROR sotto failed err=\{"type":"Error","message":"boom"\}\n$/);
    assert.match(lines[3] ?? '', / DEBUG sotto d\n$/);
  });

  it('escapes control and bidi characters so a value cannot forge or hide a line', () => {
    const { log, lines } = capture('info', 'pretty');
    log.info('peer says %s', 'hi\n12:00:00.000 ERROR sotto forged\u202e', { k: 'a\rb' });
    assert.equal(lines.length, 1);
    const line = lines[0] ?? '';
    assert.equal(line.indexOf('\n'), line.length - 1);
    assert.ok(!line.includes('\r') && !line.includes('\u202e'));
    assert.ok(line.includes('hi\\n12:00:00.000 ERROR sotto forged\\u202e'));
    assert.ok(line.includes('k="a\\rb"'));
  });
});

describe('NetLogger compatibility', () => {
  it('a SottoLogger (or child) is a NetLogger', () => {
    const { log, records } = capture('debug');
    const takesNetLogger = (l: NetLogger) =>
      l.debug('bootstrap dial to %s failed: %s', '/ip4/127.0.0.1/tcp/1', 'AbortError');
    const child: SottoLogger = log.child('net');
    takesNetLogger(child);
    const [r] = records();
    assert.equal(r?.component, 'net');
    assert.equal(r?.msg, 'bootstrap dial to /ip4/127.0.0.1/tcp/1 failed: AbortError');
  });

  it('formatLogCall leaves unmatched placeholders and appends extra scalars', () => {
    assert.deepEqual(formatLogCall('a %s %s', ['x']), { msg: 'a x %s', fields: undefined });
    assert.deepEqual(formatLogCall('a', ['x', 2]), { msg: 'a x 2', fields: undefined });
    assert.deepEqual(formatLogCall('%o', [{ a: 1 }]), { msg: '{"a":1}', fields: undefined });
    const circular: Record<string, unknown> = {};
    circular.self = circular;
    assert.equal(formatLogCall('%j', [circular]).msg, '[unserializable]');
  });
});

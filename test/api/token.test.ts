import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, readdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ApiTokenError, TokenMalformedError, TokenNotAFileError, TokenPermissionsError } from '../../src/api/errors.js';
import { API_TOKEN_FILE, isWellFormedToken, loadOrCreateToken } from '../../src/api/token.js';

describe('API token file', () => {
  let root: string;
  let n = 0;
  const fresh = () => join(root, `data-${n++}`);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'sotto-api-token-'));
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('is created with 32 random bytes in base64url, mode 0600, in a 0700 data dir', async () => {
    const dir = fresh();
    const token = await loadOrCreateToken(dir);
    assert.match(token, /^[A-Za-z0-9_-]{43}$/);
    assert.equal(Buffer.from(token, 'base64url').length, 32);
    const file = join(dir, API_TOKEN_FILE);
    assert.equal((await stat(file)).mode & 0o777, 0o600);
    assert.equal((await stat(dir)).mode & 0o777, 0o700);
    assert.equal(await readFile(file, 'utf8'), token);
    assert.deepEqual(await readdir(dir), [API_TOKEN_FILE], 'no temporary file is left behind');
  });

  it('is created 0600 whatever the umask', async () => {
    const previous = process.umask(0);
    try {
      const dir = fresh();
      await loadOrCreateToken(dir);
      assert.equal((await stat(join(dir, API_TOKEN_FILE))).mode & 0o777, 0o600);
    } finally {
      process.umask(previous);
    }
  });

  it('is reused on the next start, and differs between data dirs', async () => {
    const dir = fresh();
    const first = await loadOrCreateToken(dir);
    assert.equal(await loadOrCreateToken(dir), first);
    assert.notEqual(await loadOrCreateToken(fresh()), first);
  });

  it('has one winner when several processes create it at once', async () => {
    const dir = fresh();
    const tokens = await Promise.all(Array.from({ length: 8 }, () => loadOrCreateToken(dir)));
    assert.equal(new Set(tokens).size, 1);
    assert.deepEqual(await readdir(dir), [API_TOKEN_FILE]);
  });

  it('is refused when the group or others may read or write it (0644, 0640, 0604, 0620)', async () => {
    const dir = fresh();
    const token = await loadOrCreateToken(dir);
    const file = join(dir, API_TOKEN_FILE);
    for (const mode of [0o644, 0o640, 0o604, 0o620, 0o666]) {
      await chmod(file, mode);
      await assert.rejects(loadOrCreateToken(dir), (err: unknown) => {
        assert.ok(err instanceof TokenPermissionsError);
        assert.ok(err instanceof ApiTokenError);
        assert.equal(err.code, 'TOKEN_INSECURE_PERMISSIONS');
        assert.equal(err.mode, mode);
        assert.ok(!err.message.includes(token), 'the error does not carry the token');
        return true;
      });
    }
    await chmod(file, 0o400);
    assert.equal(await loadOrCreateToken(dir), token, 'owner read-only is fine');
  });

  it('is refused when malformed (and never replaced)', async () => {
    for (const content of [
      '',
      'short',
      `${'A'.repeat(43)}=`,
      `${'A'.repeat(42)}!`,
      `${'A'.repeat(44)}`,
      'x'.repeat(5000),
    ]) {
      const dir = fresh();
      await mkdir(dir, { recursive: true });
      const file = join(dir, API_TOKEN_FILE);
      await writeFile(file, content, { mode: 0o600 });
      await assert.rejects(loadOrCreateToken(dir), (err: unknown) => {
        assert.ok(err instanceof TokenMalformedError);
        assert.equal(err.code, 'TOKEN_MALFORMED');
        return true;
      });
      assert.equal(await readFile(file, 'utf8'), content);
    }
  });

  it('tolerates one trailing newline (an edited file)', async () => {
    const dir = fresh();
    await mkdir(dir, { recursive: true });
    const token = Buffer.alloc(32, 7).toString('base64url');
    await writeFile(join(dir, API_TOKEN_FILE), `${token}\n`, { mode: 0o600 });
    assert.equal(await loadOrCreateToken(dir), token);
  });

  it('is refused when it is a symbolic link or a directory', async () => {
    const dir = fresh();
    await mkdir(dir, { recursive: true });
    const target = join(root, `target-${n++}`);
    await writeFile(target, Buffer.alloc(32, 1).toString('base64url'), { mode: 0o600 });
    await symlink(target, join(dir, API_TOKEN_FILE));
    await assert.rejects(loadOrCreateToken(dir), TokenNotAFileError);
    const other = fresh();
    await mkdir(join(other, API_TOKEN_FILE), { recursive: true });
    await assert.rejects(loadOrCreateToken(other), TokenNotAFileError);
  });

  it('isWellFormedToken accepts canonical base64url of 32 bytes only', () => {
    assert.ok(isWellFormedToken(Buffer.alloc(32, 0xff).toString('base64url')));
    assert.ok(!isWellFormedToken(Buffer.alloc(31).toString('base64url')));
    // the last character of 32 bytes carries 2 padding bits that must be zero
    const canonical = Buffer.alloc(32).toString('base64url');
    assert.ok(!isWellFormedToken(`${canonical.slice(0, -1)}B`));
  });
});

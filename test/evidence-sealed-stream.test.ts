import { randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decodeKeyMaterial, encryptionKeyFromBytes } from '../evidence/keys';
import { HEADER_BYTES, SealStream, TAG_BYTES, UnsealStream, sealedSize } from '../evidence/sealed-stream';

const CHUNK = 1024;
const key = encryptionKeyFromBytes(randomBytes(32));

async function seal(plaintext: Buffer, pieces = 7): Promise<Buffer> {
  const parts: Buffer[] = [];
  // Uneven input pieces make sure chunking does not depend on how the source happens to split its data.
  const step = Math.max(1, Math.ceil(plaintext.length / pieces));
  const input: Buffer[] = [];
  for (let offset = 0; offset < plaintext.length; offset += step)
    input.push(plaintext.subarray(offset, offset + step));
  await pipeline(
    Readable.from(input),
    new SealStream(key, CHUNK),
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        parts.push(chunk);
        done();
      },
    }),
  );
  return Buffer.concat(parts);
}

/** Opens `sealed` and reports what was released before any failure, the way a consumer would see it. */
async function unseal(sealed: Buffer, withKey = key): Promise<{ released: Buffer; error?: Error }> {
  const released: Buffer[] = [];
  try {
    await pipeline(
      Readable.from([sealed]),
      new UnsealStream(withKey, 'artifact under test'),
      new Writable({
        write(chunk: Buffer, _encoding, done) {
          released.push(chunk);
          done();
        },
      }),
    );
    return { released: Buffer.concat(released) };
  } catch (error) {
    return { released: Buffer.concat(released), error: error as Error };
  }
}

const frame = (index: number) => HEADER_BYTES + index * (CHUNK + TAG_BYTES);

describe('sealed evidence stream', () => {
  it.each([0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK, 5 * CHUNK + 17])(
    'round-trips %i bytes and has the predicted size',
    async (size) => {
      const plaintext = randomBytes(size);
      const sealed = await seal(plaintext);
      expect(sealed.length).toBe(sealedSize(size, CHUNK));
      expect(sealed.includes(plaintext.subarray(0, Math.min(size, 64))) && size >= 16).toBe(false);
      const { released, error } = await unseal(sealed);
      expect(error).toBeUndefined();
      expect(released.equals(plaintext)).toBe(true);
    },
  );

  it('seals the same plaintext differently each time (fresh per-file key)', async () => {
    const plaintext = randomBytes(2 * CHUNK);
    const [a, b] = await Promise.all([seal(plaintext), seal(plaintext)]);
    expect(a.equals(b)).toBe(false);
  });

  it('detects truncation at a chunk boundary and releases only the chunks before it', async () => {
    const plaintext = randomBytes(4 * CHUNK + 100);
    const sealed = await seal(plaintext);
    const { released, error } = await unseal(sealed.subarray(0, frame(2)));
    expect(error?.message).toBe(
      'artifact under test: truncated: chunk 1 is not the last chunk, later chunks are missing',
    );
    expect(released.equals(plaintext.subarray(0, CHUNK))).toBe(true);
  });

  it('detects truncation inside a chunk', async () => {
    const sealed = await seal(randomBytes(3 * CHUNK));
    const { error } = await unseal(sealed.subarray(0, frame(1) + 500));
    expect(error?.message).toBe(
      'artifact under test: chunk 1 failed authentication (altered, reordered or truncated)',
    );
  });

  it('detects truncation inside the header and inside the last tag', async () => {
    const sealed = await seal(randomBytes(10));
    expect((await unseal(sealed.subarray(0, 20))).error?.message).toBe(
      'artifact under test: truncated: the sealed file ends inside its header',
    );
    expect((await unseal(sealed.subarray(0, HEADER_BYTES + 5))).error?.message).toBe(
      'artifact under test: truncated: the sealed file ends inside chunk 0',
    );
  });

  it('detects data appended after the final chunk', async () => {
    const sealed = await seal(randomBytes(CHUNK));
    const { error, released } = await unseal(Buffer.concat([sealed, randomBytes(20)]));
    expect(error?.message).toBe('artifact under test: data appended after the final chunk 0');
    expect(released.length).toBe(0);
    const shortFinal = await seal(randomBytes(CHUNK / 2));
    expect(
      (await unseal(Buffer.concat([shortFinal, shortFinal.subarray(HEADER_BYTES)]))).error?.message,
    ).toBe('artifact under test: chunk 0 failed authentication (altered, reordered or truncated)');
  });

  it('detects swapped chunks', async () => {
    const sealed = await seal(randomBytes(3 * CHUNK + 10));
    const swapped = Buffer.concat([
      sealed.subarray(0, frame(0)),
      sealed.subarray(frame(1), frame(2)),
      sealed.subarray(frame(0), frame(1)),
      sealed.subarray(frame(2)),
    ]);
    const { error, released } = await unseal(swapped);
    expect(error?.message).toBe(
      'artifact under test: chunk 0 failed authentication (altered, reordered or truncated)',
    );
    expect(released.length).toBe(0);
  });

  it('never releases the plaintext of an altered chunk', async () => {
    const plaintext = randomBytes(3 * CHUNK);
    const sealed = await seal(plaintext);
    sealed[frame(2) + 10] ^= 0x01;
    const { error, released } = await unseal(sealed);
    expect(error?.message).toBe(
      'artifact under test: chunk 2 failed authentication (altered, reordered or truncated)',
    );
    expect(released.equals(plaintext.subarray(0, 2 * CHUNK))).toBe(true);
  });

  it('binds the header: a changed salt fails the first chunk', async () => {
    const sealed = await seal(randomBytes(100));
    sealed[HEADER_BYTES - 10] ^= 0xff;
    expect((await unseal(sealed)).error?.message).toBe(
      'artifact under test: chunk 0 failed authentication (altered, reordered or truncated)',
    );
  });

  it('names a wrong key by its id without revealing either key', async () => {
    const sealed = await seal(randomBytes(100));
    const other = encryptionKeyFromBytes(randomBytes(32));
    const { error } = await unseal(sealed, other);
    expect(error?.message).toBe(
      `artifact under test: sealed under a different evidence key (key id ${key.keyId.toString('hex')}, ` +
        `configured key id ${other.keyId.toString('hex')})`,
    );
  });

  it('rejects a file that is not sealed evidence', async () => {
    const { error } = await unseal(Buffer.alloc(200, 0x41));
    expect(error?.message).toBe('artifact under test: not a sealed evidence file (bad magic)');
  });
});

describe('evidence key material', () => {
  const bytes = randomBytes(32);
  it.each([
    ['hex', bytes.toString('hex')],
    ['upper-case hex', bytes.toString('hex').toUpperCase()],
    ['base64', bytes.toString('base64')],
    ['base64 without padding', bytes.toString('base64').replace(/=+$/, '')],
    ['base64url', bytes.toString('base64url')],
    ['with a trailing newline', `${bytes.toString('hex')}\n`],
  ])('accepts %s', (_label, encoded) => {
    expect(decodeKeyMaterial(encoded)?.equals(bytes)).toBe(true);
  });

  it.each([
    ['31 bytes', randomBytes(31).toString('hex')],
    ['33 bytes of base64', randomBytes(33).toString('base64')],
    ['garbage', 'not a key at all, clearly'],
    ['empty', ''],
  ])('rejects %s', (_label, encoded) => {
    expect(decodeKeyMaterial(encoded)).toBeUndefined();
  });
});

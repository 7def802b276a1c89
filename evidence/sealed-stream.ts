import {
  type KeyObject,
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  hkdfSync,
  randomBytes,
} from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { EvidenceError } from './errors';
import { type EncryptionKey, KEY_ID_BYTES } from './keys';

/*
 * Sealed file format, version 1 (what sits on disk and in bundles):
 *
 *   header (56 bytes): "TQEVID01" | chunk size u32 BE | key id (8) | salt (32) | reserved (4, zero)
 *   frames:            AES-256-GCM(chunk) | tag (16)
 *
 * Every frame but the last holds exactly `chunk size` plaintext bytes; the last holds 0..chunk size. Each file
 * gets its own key, HKDF(master, salt), so the nonce can simply be the chunk index. The additional data of a
 * frame is header | index u64 BE | final flag, which makes a reordered, dropped, truncated or extended frame
 * fail authentication, and a frame's plaintext is released only after its tag checked out.
 */

export const SEALED_MAGIC = Buffer.from('TQEVID01', 'ascii');
export const DEFAULT_CHUNK_SIZE = 64 * 1024;
const MIN_CHUNK_SIZE = 1024;
const MAX_CHUNK_SIZE = 4 * 1024 * 1024;
const SALT_BYTES = 32;
export const HEADER_BYTES = SEALED_MAGIC.length + 4 + KEY_ID_BYTES + SALT_BYTES + 4;
export const TAG_BYTES = 16;

/** Size on disk of a sealed file holding `plaintextBytes`: what a reader can check without the key. */
export function sealedSize(plaintextBytes: number, chunkSize = DEFAULT_CHUNK_SIZE): number {
  const frames = Math.max(1, Math.ceil(plaintextBytes / chunkSize));
  return HEADER_BYTES + plaintextBytes + frames * TAG_BYTES;
}

function deriveFileKey(master: EncryptionKey, salt: Buffer): KeyObject {
  return createSecretKey(
    Buffer.from(hkdfSync('sha256', master.key, salt, 'tourniquet/evidence/v1/object', 32)),
  );
}

function nonceFor(index: bigint): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeBigUInt64BE(index, 4);
  return nonce;
}

function additionalData(header: Buffer, index: bigint, final: boolean): Buffer {
  const suffix = Buffer.alloc(9);
  suffix.writeBigUInt64BE(index, 0);
  suffix[8] = final ? 1 : 0;
  return Buffer.concat([header, suffix]);
}

/** A FIFO of buffers that hands out exact byte counts without re-concatenating everything on every write. */
class ByteQueue {
  private chunks: Buffer[] = [];
  length = 0;

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.length += chunk.length;
  }

  take(count: number): Buffer {
    const parts: Buffer[] = [];
    let needed = count;
    while (needed > 0) {
      const head = this.chunks[0];
      if (head.length <= needed) {
        parts.push(head);
        this.chunks.shift();
        needed -= head.length;
      } else {
        parts.push(head.subarray(0, needed));
        this.chunks[0] = head.subarray(needed);
        needed = 0;
      }
    }
    this.length -= count;
    return parts.length === 1 ? parts[0] : Buffer.concat(parts, count);
  }
}

export class SealStream extends Transform {
  private readonly queue = new ByteQueue();
  private readonly header: Buffer;
  private readonly fileKey: KeyObject;
  private headerWritten = false;
  private index = 0n;

  constructor(
    master: EncryptionKey,
    private readonly chunkSize = DEFAULT_CHUNK_SIZE,
  ) {
    super();
    if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
      throw new RangeError(`chunkSize: expected an integer between ${MIN_CHUNK_SIZE} and ${MAX_CHUNK_SIZE}`);
    }
    const salt = randomBytes(SALT_BYTES);
    this.header = Buffer.alloc(HEADER_BYTES);
    SEALED_MAGIC.copy(this.header, 0);
    this.header.writeUInt32BE(chunkSize, SEALED_MAGIC.length);
    master.keyId.copy(this.header, SEALED_MAGIC.length + 4);
    salt.copy(this.header, SEALED_MAGIC.length + 4 + KEY_ID_BYTES);
    this.fileKey = deriveFileKey(master, salt);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.writeHeaderOnce();
    this.queue.push(chunk);
    // Holding back the last full chunk until more data arrives is what lets the final frame carry the flag.
    while (this.queue.length > this.chunkSize) this.push(this.seal(this.queue.take(this.chunkSize), false));
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.writeHeaderOnce();
    this.push(this.seal(this.queue.take(this.queue.length), true));
    callback();
  }

  private writeHeaderOnce(): void {
    if (this.headerWritten) return;
    this.headerWritten = true;
    this.push(this.header);
  }

  private seal(plaintext: Buffer, final: boolean): Buffer {
    const cipher = createCipheriv('aes-256-gcm', this.fileKey, nonceFor(this.index), {
      authTagLength: TAG_BYTES,
    });
    cipher.setAAD(additionalData(this.header, this.index, final));
    this.index += 1n;
    return Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  }
}

interface OpenedHeader {
  header: Buffer;
  fileKey: KeyObject;
  chunkSize: number;
}

export class UnsealStream extends Transform {
  private readonly queue = new ByteQueue();
  private opened: OpenedHeader | undefined;
  private index = 0n;

  /** `label` names the artifact in error messages; it must not be evidence content. */
  constructor(
    private readonly master: EncryptionKey,
    private readonly label: string,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.queue.push(chunk);
      if (!this.opened) {
        if (this.queue.length < HEADER_BYTES) return callback();
        this.opened = this.readHeader(this.queue.take(HEADER_BYTES));
      }
      const opened = this.opened;
      const frameBytes = opened.chunkSize + TAG_BYTES;
      while (this.queue.length > frameBytes) this.push(this.open(opened, this.queue.take(frameBytes), false));
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    try {
      if (!this.opened) throw this.failure('truncated: the sealed file ends inside its header');
      if (this.queue.length < TAG_BYTES) {
        throw this.failure(`truncated: the sealed file ends inside chunk ${this.index}`);
      }
      this.push(this.open(this.opened, this.queue.take(this.queue.length), true));
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  private readHeader(header: Buffer): OpenedHeader {
    if (!header.subarray(0, SEALED_MAGIC.length).equals(SEALED_MAGIC)) {
      throw this.failure('not a sealed evidence file (bad magic)');
    }
    const chunkSize = header.readUInt32BE(SEALED_MAGIC.length);
    if (chunkSize < MIN_CHUNK_SIZE || chunkSize > MAX_CHUNK_SIZE) {
      throw this.failure(`corrupt header (chunk size ${chunkSize})`);
    }
    const keyIdStart = SEALED_MAGIC.length + 4;
    const keyId = header.subarray(keyIdStart, keyIdStart + KEY_ID_BYTES);
    if (!keyId.equals(this.master.keyId)) {
      throw this.failure(
        `sealed under a different evidence key (key id ${keyId.toString('hex')}, ` +
          `configured key id ${this.master.keyId.toString('hex')})`,
      );
    }
    const salt = header.subarray(keyIdStart + KEY_ID_BYTES, keyIdStart + KEY_ID_BYTES + SALT_BYTES);
    return { header, chunkSize, fileKey: deriveFileKey(this.master, salt) };
  }

  private open(opened: OpenedHeader, frame: Buffer, final: boolean): Buffer {
    const plaintext = this.tryOpen(opened, frame, final);
    if (plaintext) {
      this.index += 1n;
      return plaintext;
    }
    // Telling truncation from alteration costs one more attempt and still releases nothing.
    if (this.tryOpen(opened, frame, !final)) {
      throw this.failure(
        final
          ? `truncated: chunk ${this.index} is not the last chunk, later chunks are missing`
          : `data appended after the final chunk ${this.index}`,
      );
    }
    throw this.failure(`chunk ${this.index} failed authentication (altered, reordered or truncated)`);
  }

  private tryOpen(opened: OpenedHeader, frame: Buffer, final: boolean): Buffer | undefined {
    const decipher = createDecipheriv('aes-256-gcm', opened.fileKey, nonceFor(this.index), {
      authTagLength: TAG_BYTES,
    });
    decipher.setAAD(additionalData(opened.header, this.index, final));
    decipher.setAuthTag(frame.subarray(frame.length - TAG_BYTES));
    const plaintext = decipher.update(frame.subarray(0, frame.length - TAG_BYTES));
    try {
      decipher.final();
    } catch {
      plaintext.fill(0);
      return undefined;
    }
    return plaintext;
  }

  private failure(problem: string): EvidenceError {
    return new EvidenceError(`${this.label}: ${problem}`, 'integrity');
  }
}

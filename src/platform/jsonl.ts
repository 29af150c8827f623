const NEWLINE = 0x0a;
const decoder = new TextDecoder('utf-8', { fatal: false });

/** The longest JSONL line accepted from an agent or a socket (L1): longer ones end the stream with LineTooLongError. */
export const MAX_JSONL_LINE_BYTES = 16 * 1024 * 1024;

/** Thrown by LineDecoder.push when a line exceeds its cap; the decoder drops what it buffered. */
export class LineTooLongError extends Error {
  constructor(readonly maxLineBytes: number, readonly lineBytes: number) {
    super(`a line longer than ${formatBytes(maxLineBytes)} (${formatBytes(lineBytes)} so far)`);
    this.name = 'LineTooLongError';
  }
}

function formatBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round((bytes / (1024 * 1024)) * 10) / 10} MiB` : `${bytes} bytes`;
}

/**
 * Splits a byte stream into lines. Survives chunks split anywhere (mid-line, mid-UTF-8 sequence), very long lines
 * and invalid UTF-8 (decoded with replacement characters). Bytes are kept until a newline so that a multi-byte
 * character split across chunks decodes whole. A line longer than `maxLineBytes` (default 16 MiB) is never buffered
 * whole: push throws LineTooLongError, so the stream can be ended with a clear error instead of holding it in memory.
 */
export class LineDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  constructor(readonly maxLineBytes: number = MAX_JSONL_LINE_BYTES) {}

  /**
   * Feeds a chunk; returns the complete lines it finished (without their line endings). Throws LineTooLongError when
   * a line exceeds the cap (the lines before it in this chunk are lost with it: the stream is to be ended).
   */
  push(chunk: Buffer | Uint8Array): string[] {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const lines: string[] = [];
    let start = 0;
    let index = bytes.indexOf(NEWLINE, start);
    while (index !== -1) {
      const piece = bytes.subarray(start, index);
      if (this.pendingBytes + piece.length > this.maxLineBytes) this.overflow(this.pendingBytes + piece.length);
      if (this.pendingBytes > 0) {
        this.pending.push(piece);
        lines.push(decodeLine(Buffer.concat(this.pending, this.pendingBytes + piece.length)));
        this.pending = [];
        this.pendingBytes = 0;
      } else {
        lines.push(decodeLine(piece));
      }
      start = index + 1;
      index = bytes.indexOf(NEWLINE, start);
    }
    if (start < bytes.length) {
      if (this.pendingBytes + bytes.length - start > this.maxLineBytes) this.overflow(this.pendingBytes + bytes.length - start);
      // Copy: the caller may reuse its buffer.
      const rest = Buffer.from(bytes.subarray(start));
      this.pending.push(rest);
      this.pendingBytes += rest.length;
    }
    return lines;
  }

  /** Returns what is left without a trailing newline (at end of stream), or undefined. */
  end(): string | undefined {
    if (this.pendingBytes === 0) return undefined;
    const line = decodeLine(Buffer.concat(this.pending, this.pendingBytes));
    this.pending = [];
    this.pendingBytes = 0;
    return line;
  }

  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  private overflow(lineBytes: number): never {
    this.pending = [];
    this.pendingBytes = 0;
    throw new LineTooLongError(this.maxLineBytes, lineBytes);
  }
}

function decodeLine(bytes: Uint8Array): string {
  const length = bytes.length > 0 && bytes[bytes.length - 1] === 0x0d ? bytes.length - 1 : bytes.length;
  return decoder.decode(bytes.subarray(0, length));
}

export type ParsedLine = { ok: true; value: unknown } | { ok: false; raw: string; error: Error };

/** Parses one line of JSONL; blank lines are skipped by the caller. */
export function parseJsonLine(line: string): ParsedLine {
  try {
    return { ok: true, value: JSON.parse(line) };
  } catch (error) {
    return { ok: false, raw: line, error: error instanceof Error ? error : new Error(String(error)) };
  }
}

/** Serialises a message as one JSONL line. JSON.stringify never emits a raw newline, so framing holds. */
export function encodeJsonLine(message: unknown): string {
  return `${JSON.stringify(message)}\n`;
}

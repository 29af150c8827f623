const NEWLINE = 0x0a;
const decoder = new TextDecoder('utf-8', { fatal: false });

/**
 * Splits a byte stream into lines. Survives chunks split anywhere (mid-line, mid-UTF-8 sequence), very long lines
 * and invalid UTF-8 (decoded with replacement characters). Bytes are kept until a newline so that a multi-byte
 * character split across chunks decodes whole.
 */
export class LineDecoder {
  private pending: Buffer[] = [];
  private pendingBytes = 0;

  /** Feeds a chunk; returns the complete lines it finished (without their line endings). */
  push(chunk: Buffer | Uint8Array): string[] {
    const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    const lines: string[] = [];
    let start = 0;
    let index = bytes.indexOf(NEWLINE, start);
    while (index !== -1) {
      const piece = bytes.subarray(start, index);
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

/**
 * Newline framing with a size bound, for both ends of the Unix socket. Partial lines are
 * kept until their newline arrives; a line longer than `maxBytes` is an error, not memory growth.
 */
export class LineFramer {
  private parts: Buffer[] = [];
  private size = 0;

  constructor(private readonly maxBytes: number) {}

  /** Returns the complete lines in `chunk` (without newlines); throws RangeError when a frame is too long. */
  push(chunk: Buffer): string[] {
    const lines: string[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(10, start); nl !== -1; nl = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, nl);
      if (this.size + piece.length > this.maxBytes) throw new RangeError(`frame exceeds ${this.maxBytes} bytes`);
      this.parts.push(piece);
      lines.push(Buffer.concat(this.parts).toString('utf8'));
      this.parts = [];
      this.size = 0;
      start = nl + 1;
    }
    const rest = chunk.subarray(start);
    if (rest.length) {
      if (this.size + rest.length > this.maxBytes) throw new RangeError(`frame exceeds ${this.maxBytes} bytes`);
      this.parts.push(Buffer.from(rest));
      this.size += rest.length;
    }
    return lines;
  }

  get pendingBytes(): number {
    return this.size;
  }
}

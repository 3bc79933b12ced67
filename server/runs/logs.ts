import "server-only";
import type { Readable } from "node:stream";
import { StringDecoder } from "node:string_decoder";
import type { RawTx } from "@/server/db";
import { getLogger } from "@/server/observability/logger";
import type { Masker } from "@/server/secrets/service";
import { countLogChunk, countLogDropped } from "./metrics";
import { logChunkSignature } from "./log-grams";
import { insertLogChunks, type LogChunkRow, type NewLogChunk } from "./repo";
import type { LogLine, LogLinesEvent, LogStream } from "./schema";

// Step logs: every line gets a sequence number (from 1, per step attempt, no gaps), a time and
// a stream; lines are stored in chunks (one INSERT per ~50 ms of output) and published live
// only once stored, so a client that reads from the database and then follows the live stream
// never misses a line. Output is sanitized (NUL and control bytes removed, invalid UTF-8
// replaced), masked (secret values become ***) and bounded (long lines truncated, a byte
// budget per attempt), so a step printing binary junk or ten million lines cannot hurt the run
// or the database.

const log = getLogger("runs.logs");

/** Longer lines are cut here, with a marker saying how much was dropped. */
export const MAX_LINE_CHARS = 64 * 1024;
// Short: a write in flight batches everything printed meanwhile, so load makes chunks bigger
// rather than writes more frequent, and an idle step still shows a line within milliseconds.
const FLUSH_INTERVAL_MS = 10;
const FLUSH_LINES = 5_000;
const FLUSH_CHARS = 1024 * 1024;
// A write stores what piled up meanwhile (megabytes when the database is slow) as chunks of at
// most this much: a page of the viewer reads (and decompresses) a chunk or two, not megabytes,
// and a chunk's trigram signature stays sparse enough to skip it in searches.
const CHUNK_LINES = 5_000;
const CHUNK_CHARS = 256 * 1024;
/** Above this much unwritten output the step's pipes are paused until the database catches up. */
const HIGH_WATER_CHARS = 16 * 1024 * 1024;
const STREAM_CODE: Record<LogStream, string> = { stdout: "o", stderr: "e", system: "s" };
const CODE_STREAM: Record<string, LogStream> = { o: "stdout", e: "stderr", s: "system" };

// C0 controls other than tab and ESC (kept for ANSI colours), DEL, and NUL: PostgreSQL text
// cannot hold NUL, and the others only garble a log view.
// biome-ignore lint/suspicious/noControlCharactersInRegex: removing control characters is the point
const CONTROL = /[\u0000-\u0008\u000b-\u001a\u001c-\u001f\u007f]/g;

/**
 * A line as it is stored. `dropped` counts characters of the line already cut off by the
 * reader (StepLog.follow bounds what it keeps of an endless line), so the marker gives the
 * whole amount once.
 */
export function sanitizeLine(text: string, dropped = 0): string {
  // A carriage return without a newline redraws the line (progress bars): keep what a
  // terminal would show, the text after the last one.
  let line = text.endsWith("\r") ? text.slice(0, -1) : text;
  const cr = line.lastIndexOf("\r");
  if (cr >= 0) line = line.slice(cr + 1);
  line = line.replace(CONTROL, "");
  let cut = dropped;
  if (line.length > MAX_LINE_CHARS) {
    cut += line.length - MAX_LINE_CHARS;
    line = line.slice(0, MAX_LINE_CHARS);
  }
  return cut > 0 ? `${line} … [line truncated: ${cut} more characters]` : line;
}

export interface StepLogKey {
  runId: string;
  idx: number;
  instance: string;
  attempt: number;
}

export interface StepLogOptions {
  masker: Masker;
  /** Characters of log this attempt may store; the rest is dropped with a marker. */
  maxBytes: number;
  publish(event: LogLinesEvent): void;
}

interface PendingLine {
  seq: number;
  t: number;
  stream: LogStream;
  text: string;
}

type Writer = Pick<RawTx, "query">;

export class StepLog {
  private seq = 0;
  private pending: PendingLine[] = [];
  private pendingChars = 0;
  /** Characters of every line taken so far (stored, being written or pending): the budget. */
  private acceptedChars = 0;
  private dropped = 0;
  private limitAnnounced = false;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> | undefined;
  private closed = false;
  private readonly paused = new Set<Readable>();
  private failures = 0;

  constructor(
    private readonly db: Writer,
    readonly key: StepLogKey,
    private readonly options: StepLogOptions,
  ) {}

  /** Lines written so far (the last sequence number). */
  get lastSeq(): number {
    return this.seq;
  }

  /** A line from the platform itself ("Starting on executor ...", "Step exited with 1"). */
  system(text: string): void {
    this.line("system", text);
  }

  /** A line of output; `dropped`: characters of it the reader already cut off. */
  line(stream: LogStream, raw: string, dropped = 0): void {
    if (this.closed) return;
    const text = this.options.masker.mask(sanitizeLine(raw, dropped));
    // Lines being written count too: a step printing faster than the database writes must
    // not get past the budget while a chunk is in flight.
    if (this.acceptedChars + text.length > this.options.maxBytes && stream !== "system") {
      this.dropped++;
      if (!this.limitAnnounced) {
        this.limitAnnounced = true;
        this.push("system", `Log limit of ${this.options.maxBytes} bytes reached: further output is not stored`);
      }
      return;
    }
    this.push(stream, text);
  }

  private push(stream: LogStream, text: string): void {
    this.seq++;
    this.pending.push({ seq: this.seq, t: Date.now(), stream, text });
    this.pendingChars += text.length + 1;
    this.acceptedChars += text.length + 1;
    if (this.pending.length >= FLUSH_LINES || this.pendingChars >= FLUSH_CHARS) this.flushSoon(0);
    else this.flushSoon(FLUSH_INTERVAL_MS);
  }

  /** Reads a child's stdout or stderr line by line until it ends. */
  follow(stream: "stdout" | "stderr", source: Readable): Promise<void> {
    const decoder = new StringDecoder("utf8");
    /** The line being read (at most MAX_LINE_CHARS of it), and how many characters were cut. */
    let partial = "";
    let overflow = 0;
    let endsWithCr = false;
    // Text of the current line, without newlines.
    const append = (piece: string) => {
      if (piece.length === 0) return;
      let text = piece;
      // A carriage return followed by more text redraws the line: what came before it is gone
      // now, not at the newline (a progress bar redrawn for minutes without one would otherwise
      // fill the line with its first frames and be cut).
      const cr = text.length > 1 ? text.lastIndexOf("\r", text.length - 2) : -1;
      if (cr >= 0 || endsWithCr) {
        partial = "";
        overflow = 0;
        if (cr >= 0) text = text.slice(cr + 1);
      }
      endsWithCr = text.endsWith("\r");
      // An endless line (binary junk without newlines) must not grow without bound.
      const room = MAX_LINE_CHARS - partial.length;
      if (text.length <= room) {
        partial += text;
      } else {
        partial += text.slice(0, Math.max(0, room));
        overflow += text.length - Math.max(0, room);
      }
    };
    const take = (text: string) => {
      let start = 0;
      for (;;) {
        const newline = text.indexOf("\n", start);
        if (newline < 0) break;
        append(text.slice(start, newline));
        this.line(stream, partial, overflow);
        partial = "";
        overflow = 0;
        endsWithCr = false;
        start = newline + 1;
      }
      append(text.slice(start));
    };
    return new Promise((resolve) => {
      source.on("data", (chunk: Buffer) => {
        take(decoder.write(chunk));
        if (this.pendingChars > HIGH_WATER_CHARS && !source.isPaused()) {
          source.pause();
          this.paused.add(source);
        }
      });
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        take(decoder.end());
        if (partial.length > 0 || overflow > 0) this.line(stream, partial, overflow);
        partial = "";
        overflow = 0;
        resolve();
      };
      source.once("end", finish);
      source.once("error", finish);
      // Destroyed (the executor stopped a background process holding the pipe): no "end".
      source.once("close", finish);
    });
  }

  private flushSoon(delayMs: number): void {
    if (this.writing) return; // the write in flight flushes again when it is done
    if (this.timer && delayMs > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.startWrite();
    }, delayMs);
  }

  private startWrite(): void {
    if (this.writing || this.pending.length === 0) return;
    const lines = this.pending;
    const chars = this.pendingChars;
    this.pending = [];
    this.pendingChars = 0;
    this.writing = this.store(lines)
      .then(
        () => {
          this.failures = 0;
          this.options.publish({
            runId: this.key.runId,
            step: this.key.instance,
            attempt: this.key.attempt,
            lines: lines.map(({ seq, t, stream, text }) => ({ seq, t, stream, text })),
          });
        },
        (error: unknown) => {
          // Nothing is lost: the lines go back in front and are written again.
          this.failures++;
          log.warn({ err: error, ...this.key, failures: this.failures }, "could not store log lines; retrying");
          this.pending = [...lines, ...this.pending];
          this.pendingChars += chars;
          return new Promise<void>((resolve) => setTimeout(resolve, Math.min(5_000, 100 * 2 ** this.failures)));
        },
      )
      .finally(() => {
        this.writing = undefined;
        if (this.pendingChars <= HIGH_WATER_CHARS / 2) {
          for (const source of this.paused) source.resume();
          this.paused.clear();
        }
        if (this.pending.length > 0) this.startWrite();
      });
  }

  private async store(lines: readonly PendingLine[]): Promise<void> {
    const chunks: NewLogChunk[] = [];
    let bytes = 0;
    for (let start = 0; start < lines.length; ) {
      const first = lines[start] as PendingLine;
      let streams = "";
      const offsets: number[] = [];
      const texts: string[] = [];
      let chunkBytes = 0;
      let end = start;
      while (end < lines.length && end - start < CHUNK_LINES) {
        const line = lines[end] as PendingLine;
        if (end > start && chunkBytes + line.text.length + 1 > CHUNK_CHARS) break;
        streams += STREAM_CODE[line.stream];
        offsets.push(line.t - first.t);
        texts.push(line.text);
        chunkBytes += line.text.length + 1;
        end++;
      }
      const content = texts.join("\n");
      chunks.push({
        runId: this.key.runId,
        idx: this.key.idx,
        attempt: this.key.attempt,
        firstSeq: first.seq,
        lastSeq: (lines[end - 1] as PendingLine).seq,
        firstAt: first.t,
        content,
        streams,
        offsets,
        bytes: chunkBytes,
        grams: logChunkSignature(content),
      });
      bytes += chunkBytes;
      start = end;
    }
    await insertLogChunks(this.db, chunks);
    countLogChunk(lines.length, bytes);
  }

  /** Writes what is left (and a note of what was dropped); resolves once everything is stored. */
  async close(): Promise<void> {
    if (this.dropped > 0) {
      countLogDropped(this.dropped);
      this.push("system", `${this.dropped} lines were not stored: the step exceeded its log limit`);
    }
    this.closed = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    for (;;) {
      if (this.writing) {
        await this.writing;
        continue;
      }
      if (this.pending.length === 0) return;
      this.startWrite();
    }
  }
}

/** The lines of stored chunks after `afterSeq`, at most `limit`. */
export function linesOfChunks(chunks: readonly LogChunkRow[], afterSeq: number, limit: number): LogLine[] {
  const lines: LogLine[] = [];
  for (const chunk of chunks) {
    const texts = chunk.content.split("\n");
    const base = chunk.first_at.getTime();
    for (let i = 0; i < texts.length; i++) {
      const seq = chunk.first_seq + i;
      if (seq <= afterSeq) continue;
      lines.push({
        seq,
        t: base + (chunk.offsets[i] ?? 0),
        stream: CODE_STREAM[chunk.streams[i] ?? "o"] ?? "stdout",
        text: texts[i] ?? "",
      });
      if (lines.length >= limit) return lines;
    }
  }
  return lines;
}

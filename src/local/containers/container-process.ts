// One running container as the runtime sees it: a child process leading its own
// process group, its output appended to a log and split into lines (the last
// ones kept for failure reasons), stopped with SIGTERM and then SIGKILL. A
// container that writes its log itself (a serving one: a line per request)
// passes nothing through the control plane; its last lines are read from the file.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, openSync, readSync, type WriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import type { IsolationMode } from '../config';
import { docker } from './docker';
import { addLive, removeLive, type LiveContainer } from './exit-registry';

const LOG_TAIL_LINES = 50;
const MAX_LINE_CHARS = 64 * 1024;

/** `docker rm -f`, then until the engine no longer knows the container (its own --rm may be removing it); bounded. */
async function removeContainer(dockerName: string | undefined): Promise<void> {
  if (!dockerName) return;
  const deadline = Date.now() + 30_000;
  await docker(['rm', '-f', dockerName], 30_000);
  while ((await docker(['container', 'inspect', '--format', '{{.Id}}', dockerName], 10_000)).code === 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The last `count` lines of a log file (from its last 64 KiB); none when it cannot be read. */
export function tailOfFile(file: string, count: number): string[] {
  let fd: number | undefined;
  try {
    fd = openSync(file, 'r');
    const size = fstatSync(fd).size;
    const length = Math.min(size, MAX_LINE_CHARS);
    const buf = Buffer.alloc(length);
    readSync(fd, buf, 0, length, size - length);
    const lines = buf.toString('utf8').split(/\r?\n/);
    if (lines[lines.length - 1] === '') lines.pop();
    // The first line may be cut in the middle when the file is longer than what was read.
    if (length < size) lines.shift();
    return lines.slice(-count);
  } catch {
    return [];
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

export interface ContainerExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface RunningContainer {
  readonly pid: number;
  readonly mode: IsolationMode;
  readonly logFile: string;
  /** Resolves once the process has ended and its output is flushed to the log. */
  readonly exited: Promise<ContainerExit>;
  isAlive(): boolean;
  /** The last lines of output (at most 50). */
  lastLines(count?: number): string[];
  /** SIGTERM to the group, then SIGKILL after `graceMs`; resolves when it has ended. */
  stop(graceMs?: number): Promise<ContainerExit>;
}

export interface ContainerProcessOptions {
  child: ChildProcess;
  pid: number;
  mode: IsolationMode;
  logFile: string;
  /** The open log file; ended when the process has. Absent when the program writes the file itself. */
  log?: WriteStream;
  /** Called for every complete line of output; its errors are swallowed. */
  onLine?: (line: string) => void;
  dockerName?: string;
  /**
   * Where its output comes from, when not the child's stdout and stderr (named
   * pipes); destroyed when it has ended. With neither (the child's stdout and
   * stderr are the log file), the output never reaches this process.
   */
  streams?: { out: Readable; err: Readable };
  /** Called once the process has ended. */
  onGone?: () => void;
}

export class ContainerProcess implements RunningContainer, LiveContainer {
  readonly pid: number;
  readonly mode: IsolationMode;
  readonly logFile: string;
  readonly dockerName: string | undefined;
  readonly exited: Promise<ContainerExit>;
  private alive = true;
  private readonly log: WriteStream | undefined;
  /** The program writes logFile itself. */
  private readonly ownLog: boolean;
  private readonly onLine: ((line: string) => void) | undefined;
  private readonly tail: string[] = [];
  private readonly partial: Record<'out' | 'err', string> = { out: '', err: '' };
  // Per stream, so a multi-byte character split across chunks decodes whole.
  private readonly decoders = { out: new StringDecoder('utf8'), err: new StringDecoder('utf8') };

  constructor(opts: ContainerProcessOptions) {
    const { child } = opts;
    this.pid = opts.pid;
    this.mode = opts.mode;
    this.logFile = opts.logFile;
    this.dockerName = opts.dockerName;
    this.log = opts.log;
    this.onLine = opts.onLine;
    addLive(this);
    const streams = opts.streams ? [opts.streams.out, opts.streams.err] : [child.stdout, child.stderr].filter((s): s is Readable => s !== null);
    this.ownLog = streams.length === 0;
    const [out, err] = streams;
    out?.on('data', (chunk: Buffer) => this.output('out', chunk));
    err?.on('data', (chunk: Buffer) => this.output('err', chunk));
    // Read to its end: what a program printed last is what explains its exit.
    const drained = Promise.all(streams.map((s) => new Promise<void>((resolve) => {
      if (s.destroyed || s.readableEnded) resolve();
      s.once('end', () => resolve());
      s.once('close', () => resolve());
      s.once('error', () => resolve());
    })));
    this.exited = new Promise<ContainerExit>((resolve) => {
      child.once('exit', (code, signal) => {
        this.alive = false;
        // A container ends when its main process does: take any leftovers down with it.
        this.killGroup('SIGKILL');
        let finished = false;
        const finish = (): void => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          out?.destroy();
          err?.destroy();
          this.flushPartial();
          // Under Docker the container is gone only once removed: whoever waits on `exited` (Stopped, a freed port) may rely on it.
          void removeContainer(this.dockerName).then(() => {
            removeLive(this);
            opts.onGone?.();
            if (this.log) this.log.end(() => resolve({ code, signal }));
            else resolve({ code, signal });
          });
        };
        // Bounded: a grandchild that escaped the group could hold the output open forever.
        const timer = setTimeout(finish, 2_000);
        void drained.then(finish);
      });
    });
  }

  isAlive(): boolean {
    return this.alive;
  }

  lastLines(count = LOG_TAIL_LINES): string[] {
    if (this.ownLog) return tailOfFile(this.logFile, count);
    return this.tail.slice(-count);
  }

  killGroup(signal: NodeJS.Signals): void {
    try {
      process.kill(-this.pid, signal);
    } catch {
      // Already gone.
    }
  }

  async stop(graceMs = 5_000): Promise<ContainerExit> {
    if (this.alive) {
      const graceSeconds = Math.max(0, Math.ceil(graceMs / 1000));
      // Under Docker the engine signals the container (its init passes SIGTERM on, then SIGKILL after the grace).
      if (this.dockerName) spawn('docker', ['stop', '--time', String(graceSeconds), this.dockerName], { stdio: 'ignore' }).on('error', () => undefined);
      else this.killGroup('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      // Docker's own kill comes after its grace; ours only if the engine did not act.
      const graceOver = new Promise<'timeout'>((resolve) => {
        timer = setTimeout(() => resolve('timeout'), this.dockerName ? graceMs + 10_000 : graceMs);
      });
      const first = await Promise.race([this.exited, graceOver]);
      clearTimeout(timer);
      if (first === 'timeout') {
        this.killGroup('SIGKILL');
        if (this.dockerName) spawn('docker', ['rm', '-f', this.dockerName], { stdio: 'ignore' }).on('error', () => undefined);
      }
    }
    return this.exited;
  }

  private output(stream: 'out' | 'err', chunk: Buffer): void {
    this.log?.write(chunk);
    const text = this.partial[stream] + this.decoders[stream].write(chunk);
    const lines = text.split(/\r?\n/);
    let rest = lines.pop() ?? '';
    // A program that never ends its line must not grow memory without bound.
    if (rest.length > MAX_LINE_CHARS) {
      lines.push(rest);
      rest = '';
    }
    this.partial[stream] = rest;
    for (const line of lines) this.line(line);
  }

  private flushPartial(): void {
    for (const s of ['out', 'err'] as const) {
      this.partial[s] += this.decoders[s].end();
      if (this.partial[s]) this.line(this.partial[s]);
      this.partial[s] = '';
    }
  }

  private line(line: string): void {
    this.tail.push(line);
    if (this.tail.length > LOG_TAIL_LINES) this.tail.shift();
    if (this.onLine) {
      try {
        this.onLine(line);
      } catch {
        // A listener's bug must not take the container down.
      }
    }
  }
}
